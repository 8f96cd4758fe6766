"""dlib's face recognition ResNet as an ONNX graph, converted at install time from dlib's own weights.

A small C++ program (faces/convert/dlib_net_to_xml.cpp, built against Debian's libdlib-dev) loads
``dlib_face_recognition_resnet_model_v1.dat`` and writes dlib's XML description of the network;
``xml_to_onnx`` reads the layers back and builds the same computation with the ``onnx`` package.
Nothing is downloaded. No Django import: the install command and the tests use this module.

dlib's semantics kept here: the input layer subtracts a mean per channel and divides by 256;
``affine`` is batch norm folded into a scale and a shift; ``add_prev`` adds two tensors of different
channel counts or sizes by padding the smaller one with zeros (bottom and right, dlib's tt::add).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TOOL_SOURCE = Path(__file__).resolve().parent / "convert" / "dlib_net_to_xml.cpp"
OPSET = 17
INPUT, OUTPUT = "chips", "descriptors"


class ConversionError(RuntimeError):
    """The network could not be converted; the engine keeps using dlib's own inference."""


def build_tool(target: Path) -> Path:
    """Compile the XML writer against the system's dlib; needs g++ and libdlib-dev."""
    compiler = shutil.which("g++")
    if compiler is None:
        raise ConversionError("g++ is missing: apt-get install g++ libdlib-dev")
    if not Path("/usr/include/dlib/dnn.h").is_file():
        raise ConversionError("dlib's headers are missing: apt-get install libdlib-dev")
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [compiler, "-std=c++14", "-O1", str(TOOL_SOURCE), "-ldlib", "-lpthread", "-o", str(target)]
    result = subprocess.run(command, capture_output=True, text=True)  # noqa: S603 - fixed arguments
    if result.returncode != 0:
        raise ConversionError(f"building {TOOL_SOURCE.name} failed: {result.stderr[-2000:]}")
    return target


def net_to_xml(tool: Path, model: Path, xml: Path) -> None:
    result = subprocess.run([str(tool), str(model), str(xml)], capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise ConversionError(f"dlib could not read {model.name}: {result.stderr[-2000:]}")


@dataclass
class _Graph:
    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    count: int = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def constant(self, prefix: str, values: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(values), name))
        return name

    def node(self, op: str, inputs: list[str], **attributes) -> str:
        from onnx import helper

        output = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output


@dataclass
class _Tensor:
    """A value in the graph with its static shape (channels, height, width)."""

    name: str
    channels: int
    height: int
    width: int


def _numbers(text: str | None) -> np.ndarray:
    return np.array((text or "").split(), dtype=np.float32)


def _layers(xml: Path) -> list[ET.Element]:
    """dlib's layers from the input up (the XML lists them from the loss down)."""
    layers = ET.parse(xml).getroot().findall("layer")  # noqa: S314 - written by our own tool a moment ago
    return sorted(layers, key=lambda layer: int(layer.get("idx")), reverse=True)


def _pooled(size: int, window: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - window) // stride + 1


def _add_padded(graph: _Graph, a: _Tensor, b: _Tensor) -> _Tensor:
    """dlib's add_prev: the sum over the larger shape, each input zero-padded at the end to fit."""
    channels, height, width = max(a.channels, b.channels), max(a.height, b.height), max(a.width, b.width)

    def fit(t: _Tensor) -> str:
        extra = [channels - t.channels, height - t.height, width - t.width]
        if not any(extra):
            return t.name
        pads = graph.constant("pads", np.array([0, 0, 0, 0, 0, *extra], dtype=np.int64))
        return graph.node("Pad", [t.name, pads])

    return _Tensor(graph.node("Add", [fit(a), fit(b)]), channels, height, width)


def xml_to_onnx(xml: Path, target: Path) -> None:
    """Build the ONNX graph of dlib's network from dlib's XML; input (N, 150, 150, 3) RGB uint8 chips."""
    import onnx
    from onnx import TensorProto, helper

    graph = _Graph()
    layers = _layers(xml)
    source = layers[0].find("input_rgb_image_sized")
    if source is None:
        raise ConversionError("the network does not start with input_rgb_image_sized")
    size = int(source.get("nr"))
    mean = np.array([float(source.get(c)) for c in "rgb"], dtype=np.float32).reshape(1, 3, 1, 1)
    # Chips arrive as dlib makes them, (N, H, W, 3) RGB bytes: to planes, minus the mean, over 256.
    planes = graph.node("Transpose", [graph.node("Cast", [INPUT], to=TensorProto.FLOAT)], perm=[0, 3, 1, 2])
    centred = graph.node("Sub", [planes, graph.constant("mean", mean)])
    current = _Tensor(graph.node("Mul", [centred, graph.constant("scale", np.float32([1 / 256]))]), 3, size, size)
    tags: dict[str, _Tensor] = {}
    for layer in layers[1:]:
        kind = layer.get("type")
        if kind == "tag":
            tags[layer.get("id")] = current
            continue
        if kind == "skip":
            current = tags[layer.get("id")]
            continue
        if kind == "loss":
            break
        [spec] = list(layer)
        current = _apply(graph, spec, current, tags)

    graph.nodes.append(helper.make_node("Identity", [current.name], [OUTPUT]))
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "dlib_face_recognition_resnet_model_v1",
            [helper.make_tensor_value_info(INPUT, TensorProto.UINT8, ["N", size, size, 3])],
            [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["N", current.channels])],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="attendx faces.dlib_onnx",
    )
    onnx.checker.check_model(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    onnx.save(model, str(partial))
    partial.replace(target)


def _apply(graph: _Graph, spec: ET.Element, x: _Tensor, tags: dict[str, _Tensor]) -> _Tensor:
    tag, a = spec.tag, spec.attrib
    if tag == "con":
        return _convolution(graph, spec, x)
    if tag == "affine_con":
        values = _numbers(spec.text)
        gamma, beta = values[: x.channels], values[x.channels :]
        if beta.size != x.channels:
            raise ConversionError(f"affine_con with {values.size} values for {x.channels} channels")
        scaled = graph.node("Mul", [x.name, graph.constant("gamma", gamma.reshape(1, -1, 1, 1))])
        return _Tensor(graph.node("Add", [scaled, graph.constant("beta", beta.reshape(1, -1, 1, 1))]), *_dims(x))
    if tag == "relu":
        return _Tensor(graph.node("Relu", [x.name]), *_dims(x))
    if tag in ("max_pool", "avg_pool"):
        window = (int(a["nr"]), int(a["nc"]))
        if window == (0, 0):  # avg_pool_everything
            pooled = graph.node("GlobalAveragePool", [x.name])
            return _Tensor(graph.node("Flatten", [pooled], axis=1), x.channels, 1, 1)
        strides = (int(a["stride_y"]), int(a["stride_x"]))
        padding = (int(a["padding_y"]), int(a["padding_x"]))
        op = "MaxPool" if tag == "max_pool" else "AveragePool"
        name = graph.node(op, [x.name], kernel_shape=list(window), strides=list(strides), pads=[*padding, *padding])
        height = _pooled(x.height, window[0], strides[0], padding[0])
        return _Tensor(name, x.channels, height, _pooled(x.width, window[1], strides[1], padding[1]))
    if tag == "add_prev":
        return _add_padded(graph, x, tags[a["tag"]])
    if tag == "fc_no_bias":
        outputs = int(a["num_outputs"])
        weights = _numbers(spec.text).reshape(x.channels, outputs)  # dlib: (inputs, outputs), y = x W
        return _Tensor(graph.node("MatMul", [x.name, graph.constant("fc", weights)]), outputs, 1, 1)
    raise ConversionError(f"dlib layer {tag!r} is not supported by the converter")


def _dims(x: _Tensor) -> tuple[int, int, int]:
    return x.channels, x.height, x.width


def _convolution(graph: _Graph, spec: ET.Element, x: _Tensor) -> _Tensor:
    a = spec.attrib
    filters, rows, cols = int(a["num_filters"]), int(a["nr"]), int(a["nc"])
    strides = [int(a["stride_y"]), int(a["stride_x"])]
    padding = [int(a["padding_y"]), int(a["padding_x"])]
    values = _numbers(spec.text)
    count = filters * x.channels * rows * cols
    has_bias = a.get("use_bias", "true") == "true"
    if values.size != count + (filters if has_bias else 0):
        raise ConversionError(f"con with {values.size} values; expected {count} weights (+{filters} biases)")
    inputs = [x.name, graph.constant("w", values[:count].reshape(filters, x.channels, rows, cols))]
    if has_bias:
        inputs.append(graph.constant("b", values[count:]))
    name = graph.node("Conv", inputs, kernel_shape=[rows, cols], strides=strides, pads=[*padding, *padding])
    return _Tensor(
        name,
        filters,
        _pooled(x.height, rows, strides[0], padding[0]),
        _pooled(x.width, cols, strides[1], padding[1]),
    )


def convert(model: Path, target: Path, *, work: Path | None = None) -> Path:
    """dlib's ``model`` (.dat) to ``target`` (.onnx): build the tool, write the XML, build the graph."""
    with tempfile.TemporaryDirectory(prefix="attendx-dlib-onnx-", dir=work) as name:
        folder = Path(name)
        tool = build_tool(folder / "dlib_net_to_xml")
        xml = folder / "net.xml"
        net_to_xml(tool, model, xml)
        xml_to_onnx(xml, target)
    return target
