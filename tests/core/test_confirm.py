"""Per-camera confirmation: k of n, hysteresis, clear-time close, cooldown, order and duplicates."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from firewatch.core.confirm import CameraState, ConfirmConfig, FrameObservation, flush, near, step
from firewatch.core.regions import WHOLE_BOX, FireBox

T0 = datetime(2026, 11, 22, 12, tzinfo=UTC)
NOW = T0


def obs(second, p, key=None):
    return FrameObservation(T0 + timedelta(seconds=second), key or f"cam/{second}", p, 0.5, "v1")


def run(probs, config=ConfirmConfig(clear_seconds=3, cooldown_seconds=10, reorder_seconds=0), state=None, start=0):
    state = state or CameraState()
    events = []
    for i, p in enumerate(probs):
        events += [(start + i, e) for e in step(state, "cam", obs(start + i, p), config, now=NOW)]
    return state, events


def test_opens_on_third_fire_of_five_and_closes_after_clear_time():
    _, events = run([0.1, 0.9, 0.2, 0.8, 0.1, 0.95, 0.1, 0.1, 0.1, 0.1])
    kinds = [(i, e["event"]) for i, e in events]
    assert kinds == [(5, "open"), (8, "close")]
    opened = events[0][1]
    assert opened["fire_frames"] == 3 and opened["peak_probability"] == 0.95
    assert opened["first_frame_at"] == "2026-11-22T12:00:01.000000Z"
    assert events[1][1]["alert_id"] == opened["alert_id"]


def test_clear_camera_never_alerts_and_two_of_five_is_not_enough():
    assert run([0.1] * 50)[1] == []
    assert run([0.9, 0.9, 0.1, 0.1, 0.1] * 10)[1] == []


def test_hysteresis_keeps_alert_open_at_lower_probability():
    # 0.45 is below the 0.5 open threshold but above 0.5 * 0.75: the alert stays open.
    _, events = run([0.9, 0.9, 0.9] + [0.45] * 6 + [0.1] * 4)
    assert [e["event"] for _, e in events] == ["open", "update", "close"]
    closed = events[-1][1]
    assert closed["fire_frames"] == 9 and closed["last_frame_at"] == "2026-11-22T12:00:11.000000Z"
    # Without an open alert, 0.45 frames never open one.
    assert run([0.45] * 10)[1] == []


def test_cooldown_suppresses_immediate_reopen():
    config = ConfirmConfig(clear_seconds=2, cooldown_seconds=100, reorder_seconds=0)
    _, events = run([0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9], config)
    assert [e["event"] for _, e in events] == ["open", "close"]
    _, events = run(
        [0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9],
        ConfirmConfig(clear_seconds=2, cooldown_seconds=0, reorder_seconds=0),
    )
    assert [e["event"] for _, e in events] == ["open", "close", "open"]


def test_duplicates_are_ignored_and_out_of_order_frames_are_ordered():
    config = ConfirmConfig(clear_seconds=30, reorder_seconds=0)
    state = CameraState()
    # The same fire frame delivered three times must not open an alert on its own.
    for _ in range(3):
        assert step(state, "cam", obs(1, 0.9, key="cam/dup"), config, now=NOW) == []
    assert state.duplicate_frames == 2
    # Fire frames arriving out of order still count; the first frame time is the earliest.
    events = []
    for second in (5, 3, 4):
        events += step(state, "cam", obs(second, 0.9), config, now=NOW)
    assert [e["event"] for e in events] == ["open"]
    assert events[0]["first_frame_at"] == "2026-11-22T12:00:01.000000Z"


def test_frame_older_than_full_window_is_late():
    state, _ = run([0.1] * 5, start=10)
    assert step(state, "cam", obs(1, 0.99), ConfirmConfig(reorder_seconds=0), now=NOW) == []
    assert state.late_frames == 1


def test_config_validation():
    with pytest.raises(ValidationError, match="cannot exceed"):
        ConfirmConfig(k=6, n=5)


EPISODE = [0.1] * 4 + [0.9] * 10 + [0.1] * 10  # frames 0..23, one second apart


def deliver(order, config):
    state, events = CameraState(), []
    for second in order:
        events += step(state, "cam", obs(second, EPISODE[second]), config, now=NOW)
    events += flush(state, "cam", config, now=NOW)
    return [(e["event"], e["fire_frames"], e["first_frame_at"], e["last_frame_at"]) for e in events]


def test_out_of_order_delivery_gives_the_same_alerts_as_in_order():
    config = ConfirmConfig(clear_seconds=5, reorder_seconds=8)
    in_order = deliver(range(len(EPISODE)), config)
    assert [e[:2] for e in in_order] == [("open", 3), ("update", 5), ("update", 10), ("close", 10)]
    rng = random.Random(5)
    for _ in range(20):
        # Shuffle within blocks of 6 frames: arrival jitter of up to 6 s, under reorder_seconds.
        order = []
        for start in range(0, len(EPISODE), 6):
            block = list(range(start, min(start + 6, len(EPISODE))))
            rng.shuffle(block)
            order += block
        assert deliver(order, config) == in_order


def test_frames_wait_for_the_watermark_and_flush_counts_the_rest():
    config = ConfirmConfig(reorder_seconds=10)
    state = CameraState()
    for second in range(3):
        assert step(state, "cam", obs(second, 0.9), config, now=NOW) == []
    assert len(state.pending) == 3 and not state.window
    assert [e["event"] for e in flush(state, "cam", config, now=NOW)] == ["open"]
    assert state.pending == []


def test_overlay_uri_is_readable_and_unique():
    from firewatch.core.overlay import overlay_uri

    a = overlay_uri("gs://b/explanations/", "v1", "cam-1/frame-0007.png")
    assert a.startswith("gs://b/explanations/v1/cam-1_frame-0007-") and a.endswith(".png") and ".png.png" not in a
    assert overlay_uri("gs://b/x", "v1", "cam/a_b") != overlay_uri("gs://b/x", "v1", "cam/a/b")


def test_expire_ends_an_open_alert_as_stale_after_counting_what_waits():
    from firewatch.core.confirm import expire

    config = ConfirmConfig(clear_seconds=3, cooldown_seconds=10, reorder_seconds=2)
    state = CameraState()
    events = []
    for i, p in enumerate([0.9, 0.9, 0.9, 0.9]):
        events += step(state, "cam", obs(i, p), config, now=NOW)
    assert [e["event"] for e in events] == []  # still in the reorder buffer
    ended = expire(state, "cam", config, now=NOW)
    assert [e["event"] for e in ended] == ["open", "stale"] and ended[-1]["fire_frames"] == 4
    assert state.episode is None and state.pending == []
    assert expire(CameraState(), "quiet", config, now=NOW) == []  # nothing open: nothing to say


def test_the_alert_shows_the_most_probable_explained_frame_and_no_overlay_that_will_not_exist():
    """Not every fire frame is explained (streaming's policy): the alert's explanation URI is the
    overlay of its most probable explained frame, never of a frame nobody explains."""
    config = ConfirmConfig(clear_seconds=3, cooldown_seconds=10, reorder_seconds=0)
    frames = [(0, 0.80, True), (1, 0.97, False), (2, 0.90, True), (3, 0.99, False)] + [
        (s, 0.1, False) for s in range(4, 9)
    ]
    state, events = CameraState(), []
    for second, p, explained in frames:
        observation = FrameObservation(T0 + timedelta(seconds=second), f"cam/{second}", p, 0.5, "v1", None, explained)
        events += step(
            state, "cam", observation, config, now=NOW, explanation_uri_for=lambda key, v: f"gs://o/{v}/{key}.png"
        )
    opened, closed = events
    assert opened["peak_frame_key"] == "cam/1" and opened["explanation_uri"] == "gs://o/v1/cam/2.png"
    assert closed["peak_frame_key"] == "cam/3" and closed["explanation_uri"] == "gs://o/v1/cam/2.png"
    state, events = CameraState(), []
    for second in range(4):
        observation = FrameObservation(T0 + timedelta(seconds=second), f"cam/{second}", 0.9, 0.5, "v1")
        events += step(state, "cam", observation, config, now=NOW, explanation_uri_for=lambda key, v: f"gs://o/{key}")
    assert events and all(e["explanation_uri"] is None for e in events)


# -- confirmation by place ---------------------------------------------------------------------------

LEFT, RIGHT, TOP = (0.0, 0.4, 0.1, 0.5), (0.9, 0.4, 1.0, 0.5), (0.45, 0.0, 0.55, 0.1)  # far apart from one another
PLACE_CONFIG = ConfirmConfig(clear_seconds=3, cooldown_seconds=10, reorder_seconds=0)


def placed(second, p, *boxes, key=None):
    """A frame firing at `boxes` (each (box, probability)); the most probable box is its peak."""
    fire = tuple(FireBox(box, q, 2) for box, q in sorted(boxes, key=lambda b: -b[1]))
    peak = fire[0].box if fire else WHOLE_BOX
    return FrameObservation(
        T0 + timedelta(seconds=second), key or f"cam/{second}", p, 0.5, "v1", boxes=fire, peak_box=peak
    )


def run_frames(frames, config=PLACE_CONFIG, state=None):
    state = state or CameraState()
    events = []
    for frame in frames:
        events += step(state, "cam", frame, config, now=NOW)
    return state, events


def test_near_means_intersecting_once_grown_by_the_margin():
    a = (0.2, 0.2, 0.3, 0.3)
    assert near(a, (0.25, 0.25, 0.5, 0.5), 0.0)  # overlapping
    assert near(a, (0.3, 0.2, 0.4, 0.3), 0.0)  # touching
    assert not near(a, (0.31, 0.2, 0.4, 0.3), 0.0)
    assert near(a, (0.39, 0.2, 0.5, 0.3), 0.05) and not near(a, (0.41, 0.2, 0.5, 0.3), 0.05)  # gap <= 2 * margin
    assert not near(a, (0.25, 0.41, 0.3, 0.5), 0.05)  # close in x but not in y
    assert near(WHOLE_BOX, RIGHT, 0.0) and near(LEFT, WHOLE_BOX, 0.0)


def test_fire_in_far_apart_places_does_not_confirm():
    frames = [placed(i, 0.9 + i / 100, ((LEFT, RIGHT, TOP)[i % 3], 0.9 + i / 100)) for i in range(10)]
    assert run_frames(frames)[1] == []  # 10 fire frames, but never 3 of 5 in one place
    # The same frames open an alert when confirming anywhere in the frame (the old behaviour).
    _, events = run_frames(frames, PLACE_CONFIG.model_copy(update={"by_place": False}))
    assert [e["event"] for e in events] == ["open", "update", "update"]
    assert events[0]["peak_box"] == {"x_min": 0.45, "y_min": 0.0, "x_max": 0.55, "y_max": 0.1}  # frame 2's


def test_fire_in_overlapping_places_confirms_and_the_alert_carries_its_peak_box():
    a, b, c = (0.5, 0.5, 0.6, 0.6), (0.55, 0.55, 0.65, 0.65), (0.66, 0.5, 0.7, 0.6)  # c touches b's margin
    frames = [placed(0, 0.9, (a, 0.9)), placed(1, 0.95, (b, 0.95), (LEFT, 0.6)), placed(2, 0.8, (c, 0.8))]
    _, events = run_frames(frames)
    assert [e["event"] for e in events] == ["open"]
    opened = events[0]
    assert opened["fire_frames"] == 3 and opened["peak_frame_key"] == "cam/1" and opened["peak_probability"] == 0.95
    assert opened["peak_box"] == {"x_min": 0.55, "y_min": 0.55, "x_max": 0.65, "y_max": 0.65}
    # with no margin, c (0.01 right of b) is another place: a and b are only 2 of the 3 needed
    assert run_frames(frames, PLACE_CONFIG.model_copy(update={"place_margin": 0.0}))[1] == []


def test_only_the_frames_in_the_alerts_place_belong_to_it():
    frames = [placed(0, 0.99, (RIGHT, 0.99))] + [placed(i, 0.9, (LEFT, 0.9)) for i in (1, 2, 3)]
    _, events = run_frames(frames)
    opened = events[0]
    # the right-edge frame is not part of the alert: not its first frame, peak or frame count
    assert opened["fire_frames"] == 3 and opened["first_frame_at"] == "2026-11-22T12:00:01.000000Z"
    assert opened["peak_probability"] == 0.9 and opened["peak_box"]["x_max"] == 0.1


def test_frames_without_boxes_are_the_whole_frame_and_confirm_as_before():
    """Predictions with no fire boxes (whole-frame models): the whole frame is near every place."""
    _, events = run([0.1, 0.9, 0.2, 0.8, 0.1, 0.95, 0.1, 0.1, 0.1, 0.1])
    assert [(i, e["event"]) for i, e in events] == [(5, "open"), (8, "close")]
    assert events[0][1]["peak_box"] is None  # no box known: a null RECORD
    # mixed: whole-frame frames count with boxed ones wherever those fire
    frames = [obs(0, 0.9), placed(1, 0.9, (LEFT, 0.9)), placed(2, 0.9, (RIGHT, 0.9))]
    assert [e["event"] for e in run_frames(frames)[1]] == ["open"]


def test_a_growing_fire_keeps_its_alert_and_the_alert_follows_it():
    # a fire spreading right from x = 0.1 to x = 0.8, one step per frame: each frame is near the
    # last, the first and the last are far apart
    frames = [placed(i, 0.9, ((0.1 + 0.05 * i, 0.5, 0.2 + 0.05 * i, 0.6), 0.9)) for i in range(14)]
    frames += [placed(14 + i, 0.1) for i in range(4)]
    state, events = run_frames(frames)
    assert [e["event"] for e in events] == ["open", "update", "update", "close"]
    assert len({e["alert_id"] for e in events}) == 1 and events[-1]["fire_frames"] == 14
    # the alert's place grew with the fire, from where it started to where it ended
    assert state.last_closed_place == pytest.approx((0.1, 0.5, 0.85, 0.6))


def test_fire_elsewhere_does_not_keep_an_alert_open():
    frames = [placed(i, 0.9, (LEFT, 0.9)) for i in range(3)] + [placed(3 + i, 0.9, (RIGHT, 0.9)) for i in range(6)]
    _, events = run_frames(frames)
    # LEFT opens at 2; RIGHT frames do not count for it, it closes once LEFT is clear for 3 s (at 5);
    # RIGHT opens with the next frame: the cooldown holds back only an alert in the same place
    summary = [(e["event"], e["fire_frames"], e["first_frame_at"][17:19]) for e in events]
    assert summary == [("open", 3, "00"), ("close", 3, "00"), ("open", 4, "03"), ("update", 5, "03")]
    assert events[2]["peak_box"]["x_min"] == 0.9 and events[2]["alert_id"] != events[0]["alert_id"]
    # back in the place that just closed: the cooldown applies
    again = [placed(i, 0.9, (LEFT, 0.9)) for i in range(3)] + [placed(3 + i, 0.1) for i in range(3)]
    again += [placed(6 + i, 0.9, (LEFT, 0.9)) for i in range(3)]
    assert [e["event"] for e in run_frames(again)[1]] == ["open", "close"]


def test_hysteresis_by_place_counts_a_frame_at_its_peak_box_when_no_box_reached_the_threshold():
    config = PLACE_CONFIG
    frames = [placed(i, 0.9, (LEFT, 0.9)) for i in range(3)]
    # 0.45: under the model's threshold, so no fire box; its peak region is where the alert is
    under = FrameObservation(T0 + timedelta(seconds=3), "cam/3", 0.45, 0.5, "v1", peak_box=LEFT)
    elsewhere = FrameObservation(T0 + timedelta(seconds=4), "cam/4", 0.45, 0.5, "v1", peak_box=RIGHT)
    state, events = run_frames([*frames, under, elsewhere], config)
    assert state.episode is not None and state.episode.fire_frames == 4  # `under` counted, `elsewhere` not


def test_by_place_dedupe_and_reorder_still_hold():
    config = ConfirmConfig(clear_seconds=5, reorder_seconds=8)
    episode = [placed(i, 0.1) for i in range(4)]
    episode += [placed(4 + i, 0.9, ((0.4 + 0.02 * i, 0.4, 0.5 + 0.02 * i, 0.5), 0.9)) for i in range(10)]
    episode += [placed(14 + i, 0.9, ((LEFT, RIGHT, TOP)[i % 3], 0.9)) for i in range(10)]  # scattered elsewhere

    def deliver(order):
        state, events = CameraState(), []
        for i in order:
            events += step(state, "cam", episode[i], config, now=NOW)
            if i % 5 == 0:  # a redelivery
                assert step(state, "cam", episode[i], config, now=NOW) == []
        events += flush(state, "cam", config, now=NOW)
        return [(e["event"], e["fire_frames"], e["first_frame_at"], e["last_frame_at"], e["peak_box"]) for e in events]

    in_order = deliver(range(len(episode)))
    assert [e[:2] for e in in_order] == [("open", 3), ("update", 5), ("update", 10), ("close", 10)]
    rng = random.Random(7)
    for _ in range(10):
        order = []
        for start in range(0, len(episode), 6):
            block = list(range(start, min(start + 6, len(episode))))
            rng.shuffle(block)
            order += block
        assert deliver(order) == in_order


def test_the_camera_state_stays_picklable_and_bounded():
    import pickle

    config = PLACE_CONFIG
    frames = [placed(i, 0.9, ((0.5, 0.5, 0.6, 0.6), 0.9), ((0.1, 0.1, 0.2, 0.2), 0.7)) for i in range(50)]
    state, _ = run_frames(frames, config)
    restored = pickle.loads(pickle.dumps(state))
    assert restored.episode.place == state.episode.place and len(restored.window) == config.n
    more = step(restored, "cam", placed(50, 0.9, ((0.5, 0.5, 0.6, 0.6), 0.9)), config, now=NOW)
    assert more == [] or all(e["alert_id"] == state.episode.alert_id for e in more)


def test_an_alert_event_with_its_box_matches_the_alerts_schema_and_the_message_carries_it():
    import json

    from firewatch.core.alerts import alert_message_parts
    from tests.fixtures.schema_check import check_row, load_schema

    _, events = run_frames([placed(i, 0.9, ((0.25, 0.5, 0.5, 0.75), 0.9)) for i in range(3)])
    check_row(events[0], load_schema("alerts"), "alert")
    (_, no_box), *_ = run([0.9, 0.9, 0.9])[1]
    assert no_box["peak_box"] is None
    check_row(no_box, load_schema("alerts"), "alert")
    data, attributes = alert_message_parts(events[0])
    assert json.loads(data)["peak_box"] == {"x_min": 0.25, "y_min": 0.5, "x_max": 0.5, "y_max": 0.75}
    assert attributes["event"] == "open"


def test_a_camera_state_saved_before_places_existed_still_counts_as_the_whole_frame():
    """Beam state pickled by the previous code (no place fields) is read by this code on a pipeline
    update: the missing fields read as their class defaults (whole frame, no box, no closed place)."""
    import pickle

    state, events = run([0.9, 0.9, 0.9])
    assert events and state.episode is not None
    for obj, names in ((state.episode, ("place", "peak_box")), (state, ("last_closed_place",))):
        for name in names:
            del obj.__dict__[name]
    for frame in state.window:  # frozen: drop the new fields the way an old pickle lacks them
        for name in ("boxes", "peak_box"):
            object.__delattr__(frame, name)
    old = pickle.loads(pickle.dumps(state))
    assert old.episode.place == WHOLE_BOX and old.last_closed_place is None
    more = step(old, "cam", placed(3, 0.9, (LEFT, 0.9)), PLACE_CONFIG, now=NOW)
    more += step(old, "cam", placed(4, 0.9, (RIGHT, 0.9)), PLACE_CONFIG, now=NOW)
    assert old.episode.fire_frames == 5 and [e["event"] for e in more] == ["update"]


def test_a_false_alarm_that_stays_open_does_not_hide_a_fire_elsewhere_in_the_camera():
    """LEFT fires in every frame (a sunlit roof); a fire starts RIGHT at frame 3. The fire opens its own
    alert at its third frame while LEFT's stays open, and each alert counts only its own place."""
    frames = [placed(i, 0.9, (LEFT, 0.9)) for i in range(3)]
    frames += [placed(i, 0.95, (LEFT, 0.9), (RIGHT, 0.95)) for i in range(3, 10)]
    state, events = run_frames(frames)
    opens = [e for e in events if e["event"] == "open"]
    assert [(e["peak_box"]["x_min"], e["first_frame_at"][17:19], e["fire_frames"]) for e in opens] == [
        (0.0, "00", 3),
        (0.9, "03", 3),
    ]
    assert opens[0]["alert_id"] != opens[1]["alert_id"]
    assert [e.place for e in state.episodes] == [LEFT, RIGHT] and state.episode.place == LEFT
    assert [e.fire_frames for e in state.episodes] == [10, 7]
    # one alert at a time, as before, when a camera is limited to one
    state, events = run_frames(frames, ConfirmConfig(**{**PLACE_CONFIG.model_dump(), "max_open_alerts": 1}))
    assert [e["event"] for e in events if e["event"] == "open"] == ["open"] and len(state.episodes) == 1
    # each closes when its own place is clear: RIGHT goes out, LEFT keeps burning
    later = [placed(i, 0.9, (LEFT, 0.9)) for i in range(10, 16)]
    state, events = run_frames(frames + later)
    closes = [e for e in events if e["event"] == "close"]
    assert [c["peak_box"]["x_min"] for c in closes] == [0.9] and [e.place for e in state.episodes] == [LEFT]


def test_a_camera_state_saved_with_one_alert_at_most_reads_as_its_first_open_alert():
    """State pickled by the code that kept one `episode` per camera: it becomes the first open alert."""
    import pickle

    state, _ = run_frames([placed(i, 0.9, (LEFT, 0.9)) for i in range(3)])
    (episode,) = state.episodes
    del state.__dict__["episodes"], state.__dict__["closes"]
    state.__dict__["episode"] = episode
    old = pickle.loads(pickle.dumps(state))
    more = step(old, "cam", placed(3, 0.9, (LEFT, 0.9)), PLACE_CONFIG, now=NOW)
    more += step(old, "cam", placed(4, 0.9, (LEFT, 0.9)), PLACE_CONFIG, now=NOW)
    assert [e["event"] for e in more] == ["update"] and more[0]["alert_id"] == episode.alert_id
    assert len(old.episodes) == 1 and "episode" not in old.__dict__
