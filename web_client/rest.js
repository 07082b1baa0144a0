// The one module through which the client talks to the Histomics Label REST API.
import {restRequest} from '@girder/core/rest';

export function listClis() {
    return restRequest({url: 'histomics_label/cli'});
}

export function detectTissue(itemId, params) {
    return restRequest({method: 'POST', url: `histomics_label/slide/${itemId}/tissue_detection`, data: params || {}});
}
