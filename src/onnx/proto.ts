// The generated protobufjs classes of onnx.proto (package onnx-proto). It is a CommonJS module
// whose exports Node cannot name statically, so it is required rather than imported.

import { createRequire } from 'node:module';
import type * as OnnxProto from 'onnx-proto';

const require = createRequire(import.meta.url);

export const onnx: typeof OnnxProto.onnx = (require('onnx-proto') as typeof OnnxProto).onnx;
export type { onnx as OnnxTypes } from 'onnx-proto';
