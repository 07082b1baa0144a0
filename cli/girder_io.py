"""Girder I/O through the REST API (girder_client, never the girder server package) for the CLIs in Girder
mode: fetch their inputs, send their outputs back and report them.

An output is described by a spec: ``{'identifier', 'name'}`` plus either ``'outputFolderId'`` (a file uploaded
into that folder) or ``'annotationItemId'`` (an ``.anot`` file whose annotations are posted onto that item).
"""
import json
import os
import tempfile

#: output parameters named like this are annotation files (the slicer_cli_web / HistomicsUI convention)
ANNOTATION_SUFFIX = 'AnnotationFile'


def connect(api_url, token):
    """A girder_client logged in with ``token``."""
    import girder_client

    client = girder_client.GirderClient(apiUrl=api_url)
    client.setToken(token)
    return client


def download(client, file_ref, directory):
    """Download ``{'fileId', 'name'}`` into ``directory``; returns the local path."""
    path = os.path.join(directory, os.path.basename(file_ref['name']))
    client.downloadFile(file_ref['fileId'], path)
    return path


def upload(client, folder_id, path, name, reference=None):
    """Upload a local file into a folder as ``name``; returns ``{'itemId', 'fileId'}``."""
    with open(path, 'rb') as stream:
        file = client.uploadFile(folder_id, stream, name, os.path.getsize(path), parentType='folder',
                                 reference=json.dumps(reference) if reference else None)
    return {'itemId': file['itemId'], 'fileId': file['_id']}


def post_annotations(client, item_id, path, girder_ids):
    """Post the annotation(s) of an ``.anot`` file onto an item; an element whose ``girderId`` names an
    output parameter in ``girder_ids`` gets that output's item id. Returns the new annotation ids."""
    with open(path) as f:
        annotations = json.load(f)
    created = []
    for annotation in annotations if isinstance(annotations, list) else [annotations]:
        for element in annotation.get('elements', []):
            if element.get('girderId') in girder_ids:
                element['girderId'] = girder_ids[element['girderId']]
        created.append(client.post('annotation', parameters={'itemId': item_id}, data=json.dumps(annotation))['_id'])
    return created


def send_outputs(client, outputs):
    """Send ``[(local path, spec)]`` to Girder: files first (annotations may point at them), then
    annotations. Returns identifier -> ``{'itemId', 'fileId'}`` or ``{'annotationIds'}``."""
    sent = {}
    for path, spec in sorted(outputs, key=lambda output: 'annotationItemId' in output[1]):
        if not os.path.exists(path):
            raise FileNotFoundError('The CLI did not write its output %s' % spec['name'])
        if 'annotationItemId' in spec:
            item_ids = {identifier: ids['itemId'] for identifier, ids in sent.items() if 'itemId' in ids}
            sent[spec['identifier']] = {
                'annotationIds': post_annotations(client, spec['annotationItemId'], path, item_ids)}
        else:
            sent[spec['identifier']] = upload(client, spec['outputFolderId'], path, spec['name'],
                                              {'identifier': spec['identifier']})
    return sent


def run_task(client, task, args, main):
    """Run ``main(args)`` on local copies of a task's inputs (parameter -> ``{fileId, name}``), with its
    parameter values and output paths set on ``args``; then send the outputs: files into
    ``task['dataFolderId']``, annotation files onto ``task['itemId']``. Returns identifier -> ids."""
    with tempfile.TemporaryDirectory(prefix='histomics_label_') as workdir:
        for name, file_ref in task['inputs'].items():
            setattr(args, name, download(client, file_ref, workdir))
        for name, value in task.get('parameters', {}).items():
            setattr(args, name, value)
        outputs = []
        for name, filename in task['outputs'].items():
            path = os.path.join(workdir, os.path.basename(filename))
            setattr(args, name, path)
            target = ({'annotationItemId': task['itemId']} if name.endswith(ANNOTATION_SUFFIX)
                      else {'outputFolderId': task['dataFolderId']})
            outputs.append((path, dict(target, identifier=name, name=filename)))
        main(args)
        return send_outputs(client, outputs)


def run_slide_task(args, stage, main):
    """Girder mode of a project CLI: fetch the stage's task for ``args.projectId`` / ``args.itemId`` (inputs,
    parameters, output names, data folder), run it (``run_task``) and report the outputs to the task's
    endpoint. Returns what that endpoint answered."""
    if not getattr(args, 'itemId', None):
        raise SystemExit('Girder mode needs --item-id (the slide) with --project-id.')
    client = connect(args.girderApiUrl, args.girderToken)
    task = client.get('histomics_label/project/%s/slide/%s/task/%s' % (args.projectId, args.itemId, stage))
    sent = run_task(client, task, args, main)
    return client.post(task['report'], parameters={'outputs': json.dumps(sent)})


def large_image_file(client, item_id):
    """``{fileId, name}`` of an item's large-image file; SystemExit if the item is not a large image."""
    item = client.get('item/%s' % item_id)
    file_id = (item.get('largeImage') or {}).get('fileId')
    if not file_id:
        raise SystemExit('Item %s is not a large image.' % item_id)
    return {'fileId': file_id, 'name': client.get('file/%s' % file_id)['name']}
