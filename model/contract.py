"""The names of an exported model's tensors, the contract apps code against.

model.export writes them; a process that only runs a .tflite file (a Beam
worker of the batch job, with tflite_runtime) reads them here, without
importing TensorFlow.
"""

IMAGE = 'image'
CLASS_IDS = 'class_ids'
PROBABILITIES = 'probabilities'
