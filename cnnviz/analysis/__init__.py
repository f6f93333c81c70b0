"""Tensors -> small frozen dataclasses: feature maps, CAM, residual gradients, SE weights, boxes, masks."""
