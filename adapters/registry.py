"""The adapter registry: name -> adapter class, imported lazily.

Registration is explicit (one line per adapter below), so a reader sees every adapter
in one place and importing emgcorpus does not import mne, h5py or wfdb.
"""

from __future__ import annotations

import importlib

from emgcorpus.errors import ConfigError
from emgcorpus.recording import Adapter

#: registry name -> "module:Class"
ADAPTERS: dict[str, str] = {
    # datasets held in ../shared/data (issue: corpus foundation)
    "cote-allard": "adapters.cote_allard:CoteAllardAdapter",
    "ciil": "adapters.ciil:CiilAdapter",
    "flexemg": "adapters.flexemg:FlexEmgAdapter",
    "grabmyo": "adapters.grabmyo:GrabMyoAdapter",
    "wfdb": "adapters.wfdb_record:WfdbAdapter",
    "otb": "adapters.otb:OtbAdapter",
    "edf": "adapters.edf:EdfAdapter",
    "mat": "adapters.mat_mapped:MatAdapter",
    "csv": "adapters.csv_mapped:CsvAdapter",
    "sim": "adapters.sim:SimAdapter",
    # public datasets known from their documented release format (issue: dataset coverage)
    "ninapro": "adapters.ninapro:NinaProAdapter",
    "capgmyo": "adapters.capgmyo:CapgMyoAdapter",
    "csl-hdemg": "adapters.csl_hdemg:CslHdemgAdapter",
    "hyser": "adapters.hyser:HyserAdapter",
    "putemg": "adapters.putemg:PutEmgAdapter",
    "emg2qwerty": "adapters.emg2qwerty:Emg2QwertyAdapter",
    "emg2pose": "adapters.emg2pose:Emg2PoseAdapter",
    "epn612": "adapters.epn612:Epn612Adapter",
    "uci-gestures": "adapters.uci_gestures:UciGesturesAdapter",
    # BIDS-EMG trees (issue 9: BIDS in and out)
    "bids": "adapters.bids:BidsAdapter",
}


def adapter_names() -> list[str]:
    """All registered adapter names, sorted."""
    return sorted(ADAPTERS)


def get_adapter_class(name: str) -> type[Adapter]:
    """The adapter class registered as ``name``; ConfigError listing the names otherwise."""
    if name not in ADAPTERS:
        raise ConfigError(
            f"unknown adapter {name!r}: registered adapters are {', '.join(adapter_names())}"
        )
    module_name, class_name = ADAPTERS[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise TypeError(f"{ADAPTERS[name]} is not an Adapter subclass")
    return cls


def make_adapter(name: str, source: str, **options: object) -> Adapter:
    """Instantiate the adapter ``name`` over ``source`` with adapter options."""
    return get_adapter_class(name)(source, **options)
