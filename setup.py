"""Packages the pipeline code so Beam workers and pipeline containers import it.

Used by `make` (editable install) and by Beam as `--setup_file=./setup.py`,
which builds an sdist of these packages and installs it on every worker.
The exact dependency set for local runs is pinned in requirements.lock; the
ranges below are what workers need on top of their TFX base image.
"""

import setuptools

setuptools.setup(
  name='mobile-deeplab-tfx',
  version='0.1.0',
  description='TFX pipeline that turns segmentation datasets into '
  'mobile-ready DeepLab models (SavedModel + TFLite).',
  packages=setuptools.find_packages(
    include=[
      'pipeline',
      'pipeline.*',
      'components',
      'components.*',
      'model',
      'model.*',
      'data',
      'data.*',
      'clients',
    ]
  ),
  py_modules=['pipeline_runner'],
  python_requires='>=3.9,<3.11',
  install_requires=[
    'tfx==1.16.0',
    'tensorflow>=2.16,<2.17',
    'tf_keras>=2.16,<2.17',
    'tensorflow-transform==1.16.0',
    'tensorflow-model-analysis>=0.47,<0.48',
    'apache-beam[gcp]>=2.59,<2.60',
    'pillow>=10',
    'tflite-runtime==2.14.0',
    'numpy>=1.26,<2',
    'shapely>=2,<3',
    'scipy>=1.10,<2',
    'google-crc32c>=1.5',
  ],
)
