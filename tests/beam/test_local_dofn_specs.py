"""The local runner's per-class cache of DoFn state specs gives Beam's own answer, and a stateful
DoFn still runs with its state on the BundleBasedDirectRunner once it is installed."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import userstate
from apache_beam.transforms.core import CallableWrapperDoFn
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from firewatch.localrun import dofn_specs


class Counting(beam.DoFn):
    COUNT = ReadModifyWriteStateSpec("count", beam.coders.VarIntCoder())

    def process(self, element, count=beam.DoFn.StateParam(COUNT)):
        seen = (count.read() or 0) + 1
        count.write(seen)
        yield element[0], seen


class Plain(beam.DoFn):
    def process(self, element):
        yield element


def test_cached_specs_match_beams_own() -> None:
    dofn_specs.install()
    original = dofn_specs._ORIGINAL
    assert userstate.get_dofn_specs is dofn_specs.cached_dofn_specs
    for dofn in (Counting(), Plain(), Counting()):
        assert dofn_specs.cached_dofn_specs(dofn) == original(dofn)
    assert userstate.is_stateful_dofn(Counting()) and not userstate.is_stateful_dofn(Plain())
    assert Counting in dofn_specs._CACHE and Plain in dofn_specs._CACHE


def test_callable_wrappers_are_not_cached() -> None:
    dofn_specs.install()
    wrapper = CallableWrapperDoFn(lambda x: [x])
    assert dofn_specs.cached_dofn_specs(wrapper) == (set(), set())
    assert CallableWrapperDoFn not in dofn_specs._CACHE


def test_install_is_idempotent() -> None:
    dofn_specs.install()
    first = dofn_specs._ORIGINAL
    dofn_specs.install()
    assert dofn_specs._ORIGINAL is first and dofn_specs.installed()


def test_stateful_dofn_keeps_its_state_on_the_local_runner() -> None:
    dofn_specs.install()
    with beam.Pipeline(runner="BundleBasedDirectRunner") as pipeline:
        counted = pipeline | beam.Create([("a", 1), ("a", 2), ("b", 3), ("a", 4)]) | beam.ParDo(Counting())
        assert_that(counted, equal_to([("a", 1), ("a", 2), ("a", 3), ("b", 1)]))
