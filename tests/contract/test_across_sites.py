"""Site events queried at the hub as the library answers them locally: a component made and
machined at plant 1 and assembled at plant 2 has its story at each site, its assembly's
genealogy at plant 2 names plant 1 for it, plant 1's machine gives the recall scope, and
a verified story proves each event in the site's mirrored log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Clock, bearing, inspection
from test_hub_log import _forward_all, _hub, _plants
from test_site_mirror import _mirror

from thread import facts as f
from thread.errors import UnknownSubject
from thread.sites.across import AcrossSites

pytestmark = pytest.mark.contract

T0 = datetime(2030, 1, 1, 6, 0, tzinfo=UTC)
PLANT_1, PLANT_2 = "acme.example/plant-1", "acme.example/plant-2"


def test_a_component_is_followed_from_the_site_that_made_it_to_the_one_that_assembled_it(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """Trace, genealogy and recall scope at the hub, each from the right site's log."""
    plants = _plants(tmp_path, clock)
    ledger, mirror, _ = _hub(ledger_url, *plants)
    made, assembled = plants[0].ledger, plants[1].ledger
    plants[0].write(1)
    made.record(f.MachineRegistered(machine="GR-01", name="Grinder", kind="grinder"))
    made.record(bearing("C-1"))
    made.record(f.OperationPerformed(serial="C-1", operation="OP30", station="ST",
                                     machine="GR-01", operator="op", started_at=T0,
                                     ended_at=T0.replace(minute=10), cycle_time_s=600))
    made.record(inspection("C-1"))
    plants[1].write(1)
    assembled.record(bearing("C-1"))  # received from plant 1
    assembled.record(bearing("A-1"))
    assembled.record(f.ComponentInstalled(serial="A-1", component="C-1", position="P1"))
    _forward_all(mirror, plants)
    hub = AcrossSites.beside(ledger, mirror)
    assert hub.where("part", "C-1") == [PLANT_1, PLANT_2]
    stories = {s.origin: s.story for s in hub.trace("C-1", verified=True)}
    assert stories[PLANT_1].timeline == made.trace("C-1").timeline
    assert [op.machine for op in stories[PLANT_1].operations] == ["GR-01"]
    assert stories[PLANT_2].timeline == assembled.trace("C-1").timeline
    [tree] = hub.genealogy("A-1")
    assert tree.origin == PLANT_2 and tree.node == assembled.genealogy("A-1")
    assert [n.key for n in tree.node.nodes] == ["C-1"]
    assert tree.elsewhere == {"C-1": (PLANT_1,)}
    [scope] = hub.recall_scope(machine="GR-01", start=T0, end=T0.replace(hour=7))
    assert scope.origin == PLANT_1
    assert scope.scope == made.recall_scope(machine="GR-01", start=T0, end=T0.replace(hour=7))
    with pytest.raises(UnknownSubject, match="no site this hub mirrors holds NOPE"):
        hub.trace("NOPE")
    plants[0].ledger.record(f.Quarantined(serial="C-1", reason="field failure"))
    assert len(hub.trace("C-1")[0].story.timeline) == len(stories[PLANT_1].timeline)
    plants[0].ledger.checkpoint(plants[0].signer)
    _mirror(mirror, plants[0])  # mirrored now: the story at the hub catches up
    assert hub.trace("C-1")[0].story.timeline == made.trace("C-1").timeline
    hub.close()
    ledger.close()
    mirror.close()
    for plant in plants:
        plant.ledger.close()
