"""TFLite import: file validation, model metadata, and conversion to a Relax IRModule."""

from .model_info import ModelInfo, TensorInfo
from .tflite_import import Model, find_model, load_model, read_tflite

__all__ = ["Model", "ModelInfo", "TensorInfo", "find_model", "load_model", "read_tflite"]
