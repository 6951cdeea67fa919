"""``minigan.nn``: Module, Parameter, layers (PyTorch's names and layouts) and ``nn.init``.

    import minigan.nn as nn
    G = nn.Sequential(nn.Linear(100, 256), nn.ReLU(), nn.Linear(256, 784), nn.Tanh())
"""
from . import init, utils
from .layers import (AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, Dropout2d, ELU,
                     Embedding, Flatten, GroupNorm, Identity, InstanceNorm2d, LayerNorm, LeakyReLU, Linear, LogSoftmax, MaxPool2d, ModuleList, ReLU,
                     Sequential, Sigmoid, Softmax, Softplus, Tanh, Unflatten, Upsample, ZeroPad1d, ZeroPad2d,
                     ConstantPad1d, ConstantPad2d, ReflectionPad1d, ReflectionPad2d, ReplicationPad1d,
                     ReplicationPad2d, CircularPad1d, CircularPad2d)
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss)
from .module import Module, Parameter

__all__ = ["Module", "Parameter", "init", "utils", "Linear", "Conv2d", "ConvTranspose2d", "BatchNorm1d",
           "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm2d", "Dropout", "Dropout2d", "Embedding", "ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh",
           "Softplus", "Softmax", "LogSoftmax", "Identity", "Sequential", "ModuleList", "Flatten",
           "Unflatten", "Upsample", "MaxPool2d", "AvgPool2d", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss",
           "NLLLoss", "CrossEntropyLoss", "KLDivLoss", "ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d",
           "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d",
           "CircularPad2d"]
