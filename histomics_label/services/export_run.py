"""One export run (:func:`.export.run_export` calls it): opens the writers of the formats asked for, walks the
slides (labels chunk by chunk into the Parquet table and the mask codes, then the labeled superpixels' outlines
into GeoJSON and COCO, then the mask), then the removed slides' labels (:mod:`.export_removed`), uploads each file
with its checksum and writes the manifest last.
Progress goes to the job at most every :data:`PROGRESS_INTERVAL` seconds, which is also when a cancel is seen.
"""
import datetime
import json
import os
import time

import numpy as np
from girder.exceptions import ValidationException
from girder.models.folder import Folder
from girder.models.item import Item
from girder.models.upload import Upload
from girder_jobs.constants import JobStatus
from girder_jobs.models.job import Job
from girder_large_image.models.image_item import ImageItem

from ..core.export.coco import CocoWriter
from ..core.export.files import file_entry
from ..core.export.geojson import GeoJSONZip
from ..core.export.masks import fill_mask, mask_dtype, mask_size, write_mask_tiff
from ..core.export.outlines import block_keys, label_bounds, trace_outlines
from ..core.export.parquet import SuperpixelTable
from ..models.agreement import Agreement
from ..models.label import Label
from ..models.review import VERDICTS, Review
from ..models.slide import ProjectSlide
from .export_data import PATIENT_KEYS, ExportContext, SlideSource, iso_time, plan_splits
from .export_removed import FILE_NAME as REMOVED_FILE, NOTE as REMOVED_NOTE, RemovedSlides

FORMAT_VERSION = 1
CHUNK = 20000  # superpixels per table chunk (one Parquet row group)
SHAPE_CHUNK = 5000  # labeled superpixels traced per chunk
PROGRESS_INTERVAL = 1.0  # seconds between job progress writes


class ExportCanceled(Exception):
    pass


class Progress:
    """Job progress in work units, written at most every :data:`PROGRESS_INTERVAL` seconds; raises
    :class:`ExportCanceled` once the job was canceled."""

    def __init__(self, job, total):
        self.job, self.total, self.current, self.last = job, max(total, 1), 0.0, 0.0

    def advance(self, units, message=None, force=False):
        self.current += units
        if not force and time.time() - self.last < PROGRESS_INTERVAL:
            return
        self.last = time.time()
        status = Job().load(self.job['_id'], force=True, fields=['status'])['status']
        if status in (JobStatus.CANCELED, getattr(JobStatus, 'CANCELING', None)):
            raise ExportCanceled()
        self.job = Job().updateJob(self.job, progressTotal=self.total,
                                   progressCurrent=min(self.total, int(round(self.current))), progressMessage=message)


    def finish(self):
        self.current = self.total
        self.advance(0, 'done', force=True)


class Export:
    """One export run: opens the writers, walks the slides, uploads the files and the manifest."""

    def __init__(self, project, user, job, version, options, workdir, folder):
        self.project, self.user, self.job, self.version = project, user, job, version
        self.options, self.workdir, self.folder = options, workdir, folder
        self.formats = set(options['formats'])
        self.context = ExportContext(project)
        self.files, self.slides_out = [], []
        self.counts = {'superpixels': 0, 'labels': 0, 'labeledSuperpixels': 0, 'effectiveLabels': 0,
                       'disputed': 0, 'flagged': 0, 'byCategory': {}, 'byRule': {}}

    def path(self, name):
        return os.path.join(self.workdir, name)

    def run(self):
        slides = ProjectSlide().list(self.project)
        items = {s['itemId']: Item().load(s['itemId'], force=True) for s in slides}
        self.splits = plan_splits(slides, items, self.options['splitLevel'], self.options['splitRatios'],
                                  self.options['seed'])
        segmented = [s for s in slides if s.get('superpixelCount')]
        self.sizes = {s['itemId']: ImageItem().getMetadata(items[s['itemId']]) for s in segmented}
        passes = 1 + bool(self.formats & {'geojson', 'coco'}) + ('masks' in self.formats)
        removed_labels = sum(r.get('labels', 0) for r in self.project.get('removedSlides') or ())
        self.progress = Progress(self.job, passes * sum(s['superpixelCount'] for s in segmented) + removed_labels)
        self.embedding_dim = self._embedding_dim(segmented) if self.options['includeEmbeddings'] else None
        self.prediction_categories = None
        self.table = SuperpixelTable(self.path('superpixels.parquet'), self.embedding_dim,
                                     metadata=self._table_metadata()) if 'parquet' in self.formats else None
        self.geojson = GeoJSONZip(self.path('geojson.zip')) if 'geojson' in self.formats else None
        self.coco = CocoWriter(self.path('coco.json'), self._coco_info(), self._coco_images(segmented),
                               self._coco_categories()) if 'coco' in self.formats else None
        for number, slide in enumerate(segmented):
            self._slide(slide, '%d/%d %s' % (number + 1, len(segmented), slide['name']))
        self._removed_slides()
        for writer, name in ((self.table, 'superpixels.parquet'), (self.geojson, 'geojson.zip'),
                             (self.coco, 'coco.json')):
            if writer is not None:
                writer.close()
                self._upload(self.path(name), name, self.folder)
        self.progress.advance(0, 'agreement statistics and manifest', force=True)
        manifest = self._manifest(slides, items, segmented)
        body = json.dumps(manifest, indent=1, default=str)
        with open(self.path('manifest.json'), 'w') as f:
            f.write(body)
        manifest_file = self._upload(self.path('manifest.json'), 'manifest.json', self.folder, record=False)
        Folder().setMetadata(self.folder, {'histomicsLabelExport': {
            'projectId': str(self.project['_id']), 'version': self.version, 'created': manifest['created'],
            'createdBy': manifest['createdBy'], 'jobId': str(self.job['_id']), 'formats': self.options['formats'],
            'manifestFileId': manifest_file['fileId'], 'counts': {
                key: value for key, value in self.counts.items() if not isinstance(value, dict)}}})
        self.progress.finish()
        return manifest

    def _removed_slides(self):
        """Write and upload the removed slides' labels (:mod:`.export_removed`), whatever the formats."""
        removed = RemovedSlides(self.context, self.project, self.path(REMOVED_FILE), CHUNK,
                                metadata=self._table_metadata())
        self.removed_out = removed.write(lambda labels: self.progress.advance(labels, 'removed slides: labels'))
        if removed.written:
            self._upload(self.path(REMOVED_FILE), REMOVED_FILE, self.folder)

    def _table_metadata(self):
        """The Parquet key-value metadata naming the export."""
        return {'histomics_label.export': json.dumps({'projectId': str(self.project['_id']),
                                                      'version': self.version})}

    def _embedding_dim(self, slides):
        for slide in slides:
            rows = SlideSource(self.project, slide).embeddings()
            if rows is not None:
                rows.close()
                return rows.dim
        raise ValidationException('No slide of the project has embeddings yet.', 'includeEmbeddings')

    # -- one slide ---------------------------------------------------------------------------------------
    def _slide(self, slide, title):
        source = SlideSource(self.project, slide)
        patient, split = self.splits[slide['itemId']]
        codes = np.zeros(source.count, dtype=np.int32)
        labeled = []
        embeddings = source.embeddings() if self.embedding_dim else None
        stats = {'labels': 0, 'labeledSuperpixels': 0, 'effectiveLabels': 0}
        try:
            for start in range(0, source.count, CHUNK):
                stop = min(source.count, start + CHUNK)
                records = self.context.records(self.project, slide, {'$gte': start, '$lt': stop})
                self._count(records, codes, labeled, stats)
                if self.table is not None:
                    self._table_rows(source, start, stop, records, patient, split, embeddings)
                self.progress.advance(stop - start, '%s: labels' % title)
        finally:
            if embeddings is not None:
                embeddings.close()
        labeled = np.array(sorted(labeled), dtype=np.int64)
        shapes = {}
        if self.geojson is not None or self.coco is not None:
            shapes = self._shapes(source, labeled, patient, split, title)
        mask = self._mask(source, codes, title) if 'masks' in self.formats else None
        self.slides_out.append(dict({
            'itemId': str(slide['itemId']), 'name': slide['name'], 'index': slide['index'], 'patientId': patient,
            'split': split, 'superpixels': source.count, 'predictedEpoch': slide.get('epoch'),
            'labelImageItemId': str(slide['segmentation'].get('labelItemId')), 'scale': source.scale,
            'magnification': source.magnification, 'size': list(source.base_size), 'mask': mask}, **stats, **shapes))

    def _count(self, records, codes, labeled, stats):
        for superpixel, (entry, raters, _) in records.items():
            labeled.append(superpixel)
            stats['labeledSuperpixels'] += 1
            stats['labels'] += len(raters)
            self.counts['byRule'][entry['rule']] = self.counts['byRule'].get(entry['rule'], 0) + 1
            if entry['categoryId'] is not None:
                codes[superpixel] = self.context.code.get(entry['categoryId'], 0)
                stats['effectiveLabels'] += 1
                name = self.context.name(entry['categoryId'])
                self.counts['byCategory'][name] = self.counts['byCategory'].get(name, 0) + 1
            self.counts['disputed'] += entry['rule'] == 'disputed'
            self.counts['flagged'] += bool(entry['flagged'])

    def _table_rows(self, source, start, stop, records, patient, split, embeddings):
        size, ids = stop - start, range(start, stop)
        slide = source.slide
        empty = (None, [], [])
        columns = {
            'slide_index': [slide['index']] * size, 'item_id': [str(slide['itemId'])] * size,
            'slide_name': [slide['name']] * size, 'patient_id': [patient] * size, 'split': [split] * size,
            'superpixel': list(ids), 'centroid_x': source.centroids[start:stop, 0],
            'centroid_y': source.centroids[start:stop, 1]}
        columns.update(self.context.label_columns([records.get(sp, empty) for sp in ids]))
        for index, name in enumerate(('bbox_x0', 'bbox_y0', 'bbox_x1', 'bbox_y1')):
            columns[name] = source.bboxes[start:stop, index]
        columns.update(source.prediction_columns(self.context, start, stop))
        if source.predictions is not None and self.prediction_categories is None:
            self.prediction_categories = [str(self.context.resolved(c)) for c in source.predictions[3]]
        if self.embedding_dim:
            columns['embedding'] = embeddings.rows(np.arange(start, stop)) if embeddings is not None else None
        self.table.write(columns)

    def _shapes(self, source, labeled, patient, split, title):
        """GeoJSON features and COCO annotations of the slide's labeled superpixels, traced block by block."""
        if not source.has_label_image:
            raise ValueError('Slide %s has superpixels but no label image to trace their outlines from.' %
                             source.slide['name'])
        slide = source.slide
        properties = {'itemId': str(slide['itemId']), 'name': slide['name'], 'slideIndex': slide['index'],
                      'patientId': patient, 'split': split, 'projectId': str(self.project['_id']),
                      'exportVersion': self.version, 'units': 'base pixels'}
        stem = '%04d %s' % (slide['index'], slide['name'].rsplit('.', 1)[0])
        bounds = label_bounds(source.bboxes[labeled], source.scale, *source.label_size)
        labeled = labeled[np.argsort(block_keys(bounds, source.label_size), kind='stable')]
        features = annotations = 0
        with (self.geojson.collection(stem + '.geojson', properties) if self.geojson else _Nothing()) as out:
            for start in range(0, len(labeled), SHAPE_CHUNK):
                chunk = labeled[start:start + SHAPE_CHUNK]
                records = self.context.records(self.project, slide, {'$in': [int(v) for v in chunk]})
                for superpixel, polygons, pixels in trace_outlines(
                        source.read_labels, chunk, source.bboxes, source.scale, source.label_size):
                    record = records.get(superpixel)
                    if record is None:  # its labels were removed while the export ran
                        continue
                    if self.geojson is not None:
                        out.feature(polygons, dict(self.context.properties(record), superpixel=superpixel))
                        features += 1
                    if self.coco is not None and polygons and record[0]['categoryId'] is not None:
                        self.coco.annotation(
                            slide['index'] + 1, self.context.code[record[0]['categoryId']], polygons,
                            round(pixels * source.scale ** 2, 4), superpixel=superpixel, rule=record[0]['rule'],
                            raters=len(record[1]))
                        annotations += 1
                self.progress.advance(source.count * len(chunk) / len(labeled), '%s: outlines' % title)
        if not len(labeled):
            self.progress.advance(source.count)
        return {'geojson': stem + '.geojson' if self.geojson else None, 'features': features,
                'cocoAnnotations': annotations}

    def _mask(self, source, codes, title):
        """Write and upload the slide's category mask; returns its manifest entry."""
        if not source.has_label_image:
            raise ValueError('Slide %s has superpixels but no label image to draw its mask from.' %
                             source.slide['name'])
        pixel_size = source.magnification / self.options['magnification']
        width, height = mask_size(source.base_size, pixel_size)
        scratch = self.path('mask.npy')
        level0 = np.lib.format.open_memmap(scratch, mode='w+', dtype=mask_dtype(len(self.context.columns)),
                                           shape=(height, width))
        fill_mask(level0, source.read_labels, codes, source.label_size, source.scale, pixel_size,
                  progress=lambda rows: self.progress.advance(source.count * rows / height, '%s: mask' % title))
        name = '%04d %s.mask.tiff' % (source.slide['index'], source.slide['name'].rsplit('.', 1)[0])
        mm = source.mm_per_pixel * pixel_size if source.mm_per_pixel else None
        description = json.dumps({'histomicsLabel': {
            'projectId': str(self.project['_id']), 'itemId': str(source.slide['itemId']), 'version': self.version,
            'magnification': self.options['magnification'], 'basePixelsPerPixel': pixel_size,
            'codes': self._codes()}})
        write_mask_tiff(self.path(name), level0, description=description, mm_per_pixel=mm, scratch=self.workdir)
        dtype = level0.dtype.name
        del level0
        os.remove(scratch)
        masks = Folder().createFolder(self.folder, 'masks', creator=self.user, reuseExisting=True)
        entry = self._upload(self.path(name), 'masks/' + name, masks, upload_name=name)
        os.remove(self.path(name))
        return {'file': entry['name'], 'width': width, 'height': height, 'basePixelsPerPixel': pixel_size,
                'mmPerPixel': mm, 'dtype': dtype}

    # -- files and manifest ------------------------------------------------------------------------------
    def _upload(self, path, name, folder, upload_name=None, record=True):
        entry = file_entry(path, name)
        with open(path, 'rb') as f:
            file = Upload().uploadFromFile(f, entry['size'], upload_name or name, parentType='folder',
                                           parent=folder, user=self.user)
        entry.update(fileId=str(file['_id']), itemId=str(file['itemId']))
        if record:
            self.files.append(entry)
        return entry

    def _codes(self):
        return {str(index + 1): c['name'] for index, c in enumerate(self.context.columns)}

    def _coco_info(self):
        return {'description': 'Histomics Label export v%d of %s' % (self.version, self.project['name']),
                'version': str(self.version), 'year': datetime.date.today().year,
                'date_created': datetime.datetime.now(datetime.timezone.utc).isoformat()}

    def _coco_images(self, slides):
        return [{'id': s['index'] + 1, 'file_name': s['name'], 'item_id': str(s['itemId']),
                 'width': int(self.sizes[s['itemId']]['sizeX']), 'height': int(self.sizes[s['itemId']]['sizeY']),
                 'patient_id': self.splits[s['itemId']][0], 'split': self.splits[s['itemId']][1]}
                for s in slides]

    def _coco_categories(self):
        return [{'id': index + 1, 'name': c['name'], 'supercategory': 'tissue', 'color': c['fillColor']}
                for index, c in enumerate(self.context.columns)]

    def _manifest(self, slides, items, segmented):
        project = self.project
        exported = {'projectId': project['_id'], 'itemId': {'$in': [s['itemId'] for s in segmented]}}
        verdicts = {verdict: Review().collection.count_documents(dict(exported, verdict=verdict))
                    for verdict in VERDICTS}
        raters = Label().collection.distinct('userId', exported)
        self.counts.update(
            slides=len(segmented), superpixels=sum(s['superpixels'] for s in self.slides_out),
            labels=sum(s['labels'] for s in self.slides_out),
            labeledSuperpixels=sum(s['labeledSuperpixels'] for s in self.slides_out),
            effectiveLabels=sum(s['effectiveLabels'] for s in self.slides_out),
            reviews=sum(verdicts.values()), verdicts=verdicts, raters=len(raters),
            labelsOnRemovedSlides=sum(r['labels'] for r in self.removed_out))
        level = self.options['splitLevel']
        units = {}
        for key, (patient, split) in self.splits.items():
            units[patient if level == 'patient' else str(key)] = split
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        return {
            'format': 'histomics_label.export', 'formatVersion': FORMAT_VERSION, 'version': self.version,
            'created': now, 'createdBy': {'id': str(self.user['_id']), 'login': self.user['login']},
            'jobId': str(self.job['_id']), 'options': self.options,
            'project': {'id': str(project['_id']), 'name': project['name'], 'folderId': str(project['folderId']),
                        'settings': project['settings'], 'epoch': project.get('epoch', 0),
                        'model': project.get('model'), 'training': project.get('training')},
            'categories': [dict({'id': str(c['_id']), 'name': c['name'], 'fillColor': c['fillColor'],
                                 'excluded': c.get('excluded', False),
                                 'mergedInto': str(c['mergedInto']) if c.get('mergedInto') else None},
                                **({'code': self.context.code[c['_id']]} if c['_id'] in self.context.code else {}))
                           for c in self.context.categories],
            'maskCodes': dict({'0': None}, **self._codes()),
            'predictionCategories': self.prediction_categories,
            'effectiveLabelRule': 'adjudicated (latest verdict naming a category) > consensus (strict majority) > '
                                  'single rater; otherwise disputed (no effective label). See docs/labels.md.',
            'splits': {'level': level, 'ratios': self.options['splitRatios'], 'seed': self.options['seed'],
                       'patientKeys': ['meta.%s' % key for key in PATIENT_KEYS], 'units': units,
                       'slides': {str(key): split for key, (_, split) in self.splits.items()}},
            'agreement': project_agreement(project),
            'counts': self.counts, 'slides': self.slides_out,
            'removedSlides': [dict(r, removed=iso_time(r['removed'])) for r in self.removed_out],
            'removedSlidesNote': REMOVED_NOTE,
            'files': self.files,
        }


def project_agreement(project):
    """The agreement statistics the manifest records: what ``GET project/{id}/agreement`` answers with its
    defaults (95% intervals, 1000 bootstrap resamples)."""
    return Agreement().report(project, Label())


class _Nothing:
    """Stands in for a GeoJSON collection when only COCO is exported."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
