"""How much of a model goes to the GPU (``worker.offload``): the layers asked for, fewer
when they do not load, and where the model runs in words. No GPU is needed: the loads
here are stand-ins that fail above a number of layers."""

from __future__ import annotations

import pytest

from tui_chat.worker.offload import (
    ALL_LAYERS,
    Offload,
    fewer_layers,
    load_offloaded,
    offloaded_layers,
)


class NoRoom(Exception):
    pass


def _loader(fits: int, tried: list[int], cpu_fails: bool = False):
    def load(layers: int) -> int:
        tried.append(layers)
        if (layers == ALL_LAYERS or layers > fits) or (cpu_fails and layers == 0):
            raise NoRoom(layers)
        return layers

    return load


def _load(
    asked: int, fits: int, cpu_fails: bool = False, blocks: int = 32
) -> tuple[tuple[int, Offload], list[int]]:
    tried: list[int] = []
    loaded = load_offloaded(_loader(fits, tried, cpu_fails), asked, lambda: blocks, NoRoom)
    return loaded, tried


def test_the_layers_asked_for_load_when_they_fit() -> None:
    (model, offload), tried = _load(20, fits=40)
    assert (model, offload, tried) == (20, Offload(20), [20])


def test_all_layers_that_do_not_fit_fall_back_to_the_most_of_halves_that_do() -> None:
    """33 layers (32 and the output layer); 10 fit: 16 fails, 8 loads."""
    (model, offload), tried = _load(ALL_LAYERS, fits=10)
    assert tried == [ALL_LAYERS, 16, 8]
    assert (model, offload) == (8, Offload(8, fell_back_from=ALL_LAYERS))
    note = offload.note((8, 33))
    assert "did not load with all layers on the GPU" in note
    assert "8 of its 33 layers run there, the rest on the CPU" in note


def test_a_number_asked_for_halves_from_itself_down_to_the_cpu() -> None:
    (model, offload), tried = _load(20, fits=0)  # nothing fits on the GPU
    assert tried == [20, 10, 5, 2, 1, 0]
    assert (model, offload.layers) == (0, 0)
    assert offload.note(None).endswith("it runs on the CPU.")


def test_a_model_that_does_not_load_on_the_cpu_either_is_not_the_gpu_s_fault() -> None:
    with pytest.raises(NoRoom):
        _load(ALL_LAYERS, fits=0, cpu_fails=True)
    with pytest.raises(NoRoom):
        _load(0, fits=10, cpu_fails=True)


def test_a_file_that_does_not_say_its_layers_goes_to_the_cpu_at_once() -> None:
    (model, offload), tried = _load(ALL_LAYERS, fits=10, blocks=0)
    assert (tried, model, offload.layers) == ([ALL_LAYERS, 0], 0, 0)


def test_fewer_layers_halve_and_end_on_the_cpu() -> None:
    assert fewer_layers(33, ALL_LAYERS) == [16, 8, 4, 2, 1, 0]
    assert fewer_layers(33, 100) == [16, 8, 4, 2, 1, 0]
    assert fewer_layers(33, 1) == [0]


def test_where_the_model_runs_is_what_llama_cpp_reported() -> None:
    """llama.cpp writes the line only in a build that can offload (llama-model.cpp,
    ``load_tensors``); none means the CPU."""
    line = b"load_tensors: offloaded 31/31 layers to GPU\n"
    assert offloaded_layers(line) == (31, 31)
    assert offloaded_layers(b"load_tensors: offloading 30 repeating layers to GPU\n") is None
    assert Offload(ALL_LAYERS).placement((31, 31)) == "GPU 31/31 layers"
    assert Offload(12).placement((12, 31)) == "GPU 12/31 layers"
    assert Offload(ALL_LAYERS).placement(None) == "CPU"
    assert Offload(0).placement((0, 31)) == "CPU"
    assert Offload(ALL_LAYERS).note((31, 31)) == ""
