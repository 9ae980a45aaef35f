"""Temporal annotations: the three formats, seconds to frames through presentation times, selection
precision and segment recall, the store keeping them, and evaluate scoring against them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartframes.cli.main import main
from smartframes.data.segments import (Segment, SegmentsError, inside_segments, load_segments, mask_segments,
                                       read_segments, segment_recall, selection_precision, video_name)
from smartframes.evaluation.evaluate import evaluate
from smartframes.features.store import FeatureStore
from smartframes.io.video import iter_frames, write_video
from smartframes.selection.config import ANNOTATIONS, HeadConfig, SelectorConfig, TrainConfig
from smartframes.selection.head import BACKGROUND, frame_labels, train_head
from smartframes.selection.methods import uniform_frames
from smartframes.selection.train import annotated_target, choose_annotations, train_selector


def test_activitynet_json(tmp_path):
    path = tmp_path / "anet.json"
    path.write_text(json.dumps({"version": "1.3", "database": {
        "abc": {"subset": "training", "annotations": [{"segment": [5.0, 9.5], "label": "Surfing"},
                                                      {"segment": [1.0, 2.0], "label": "Surfing"}]},
        "def": {"subset": "testing", "annotations": []}}}))
    got = read_segments(path)
    assert got == {"abc": [Segment(1.0, 2.0, "Surfing"), Segment(5.0, 9.5, "Surfing")]}
    assert video_name("/data/v_abc.mp4") == video_name("abc.mkv") == "abc"


def test_thumos14_folder_and_file(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "BaseballPitch_val.txt").write_text("video_validation_0000051 67.5 75.9\n"
                                                            "video_validation_0000051 85.9 90.6\n\n")
    (tmp_path / "ann" / "Diving_val.txt").write_text("video_validation_0000052  3.0  4.5\n")
    (tmp_path / "ann" / "Ambiguous_val.txt").write_text("video_validation_0000051 10 20\n")
    got = read_segments(tmp_path / "ann")
    assert got["video_validation_0000051"] == [Segment(67.5, 75.9, "BaseballPitch"), Segment(85.9, 90.6, "BaseballPitch")]
    assert got["video_validation_0000052"] == [Segment(3.0, 4.5, "Diving")]
    assert read_segments(tmp_path / "ann" / "Diving_val.txt") == {"video_validation_0000052": [Segment(3.0, 4.5, "Diving")]}


def test_csv_with_and_without_labels(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("path,start,end\nclips/a.mp4,0.5,1.5\nclips/a.mp4,3,4\nb.avi,0,2\n")
    assert read_segments(path) == {"a": [Segment(0.5, 1.5), Segment(3.0, 4.0)], "b": [Segment(0.0, 2.0)]}
    path.write_text("path,start,end,label\na.mp4,0.5,1.5,Jump\n")
    assert read_segments(path) == {"a": [Segment(0.5, 1.5, "Jump")]}


@pytest.mark.parametrize("name, text, problem", [
    ("bad.json", "{not json", "not valid JSON"),
    ("bad.json", json.dumps({"videos": {}}), "no 'database' object"),
    ("bad.json", json.dumps({"database": {"a": {"annotations": [{"segment": [3]}]}}}), "video a: 'segment' must be"),
    ("bad.json", json.dumps({"database": {"a": {"annotations": [{"segment": [3, 1]}]}}}), "is not 0 <= start < end"),
    ("bad.csv", "path,begin,end\na.mp4,1,2\n", "header must contain 'path', 'start' and 'end'"),
    ("bad.csv", "path,start,end\na.mp4,one,2\n", "line 2: start and end must be numbers"),
    ("Jump_val.txt", "vid 1.0\n", "line 1: expected 'video start end'"),
    ("bad.xml", "<a/>", "cannot tell the annotation format"),
    ("empty.csv", "path,start,end\n", "no segment found"),
])
def test_bad_annotation_files_say_which_file_and_what(tmp_path, name, text, problem):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SegmentsError, match=problem) as e:
        read_segments(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_segments_that_name_none_of_the_videos_are_refused(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("path,start,end\nother.mp4,0,1\n")
    with pytest.raises(SegmentsError, match="annotates none of the 2 videos"):
        load_segments(path, ["/x/a.mp4", "/x/b.mp4"])


def test_inside_segments_is_half_open_and_label_aware():
    times = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    segs = [Segment(0.5, 1.5, "A"), Segment(1.5, 2.0, "B")]
    assert inside_segments(times, segs, "A").tolist() == [False, True, True, False, False]
    assert inside_segments(times, segs).tolist() == [False, True, True, True, False]
    assert inside_segments(times, [Segment(0.5, 1.5)], "A").tolist() == [False, True, True, False, False]


def test_precision_and_recall_on_hand_made_cases():
    segs = [Segment(1.0, 2.0), Segment(5.0, 6.0)]
    assert selection_precision([1.0, 1.5, 3.0, 5.5], segs) == 0.75
    assert segment_recall([1.0, 1.5, 3.0], segs) == 0.5
    assert segment_recall([1.2, 5.9], segs) == 1.0
    assert selection_precision([2.0, 6.0], segs) == 0.0  # the end is outside
    other = [Segment(1.0, 2.0, "Other")]
    assert selection_precision([1.5], other, "Mine") == 0.0 and np.isnan(segment_recall([1.5], other, "Mine"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=40), st.floats(0.01, 2.0))
def test_mask_segments_inverts_inside_segments(useful, step):
    times = np.arange(len(useful)) * step
    segs = mask_segments(times, useful, float(times[-1]) + step)
    assert inside_segments(times, segs).tolist() == list(useful)
    assert len(segs) == sum(1 for i, u in enumerate(useful) if u and (i == 0 or not useful[i - 1]))


def test_seconds_to_frames_on_a_variable_frame_rate_video(tmp_path, index_frames):
    """A VFR clip: the frames inside [1.0, 2.0) s are those whose presentation times fall there,
    not those that a constant rate would put there."""
    times = [0.0, 0.1, 0.2, 1.0, 1.05, 1.1, 1.9, 2.5, 2.6, 4.0]
    path = tmp_path / "vfr.mp4"
    write_video(path, index_frames(len(times)), fps=10, times=times)
    decoded = [t for _, t, _ in iter_frames(path)]
    np.testing.assert_allclose(decoded, times, atol=1e-3)
    inside = inside_segments(decoded, [Segment(1.0, 2.0)])
    assert np.flatnonzero(inside).tolist() == [3, 4, 5, 6]  # a constant 10 fps would say frames 10-19


def _segments_csv(path, masks_by_path, T=20):
    """The toy store's useful frames (times k / 10, written in decimal) as a CSV of segments."""
    lines = ["path,start,end"]
    for p, useful in masks_by_path.items():
        for s in mask_segments(np.arange(T) * 0.1, useful, T * 0.1):  # 0.30000000000000004 for 3 x 0.1: within tolerance
            lines.append(f"{p},{s.start},{s.end}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_store_keeps_segments_and_evaluate_scores_against_them(tmp_path, make_toy_store, capsys):
    masks = make_toy_store(tmp_path, classes=3, per_class=12)
    store = tmp_path / "store"
    with FeatureStore.open(store) as s:
        by_path = {r.path: masks[r.id] for r in s.records()}
    csv_path = _segments_csv(tmp_path / "segments.csv", by_path)
    train_selector(store, tmp_path / "ckpt", TrainConfig(epochs=6), progress=False, log=lambda m: None)
    assert main(["evaluate", "--store", str(store), "--selector", str(tmp_path / "ckpt"), "--budgets", "1,4",
                 "--segments", str(csv_path)]) == 0
    out = capsys.readouterr()
    assert "36 videos of" in out.err and "videos annotated" in out.out
    with FeatureStore.open(store) as s:  # kept: the next command finds them without --segments
        assert s.count_annotated() == 36
    report = evaluate(store, tmp_path / "ckpt", (1, 4))
    assert report.annotated == report.videos
    uniform, oracle = report.result("uniform", 4), report.result("oracle", 1)
    assert abs(uniform.selection_precision - 0.2) < 0.1  # 4 useful frames of 20
    assert oracle.selection_precision > 0.9 and 0.9 < oracle.segment_recall <= 1.0
    assert report.result("smart", 1).selection_precision > uniform.selection_precision
    # what the store's own masks give, frame by frame: the same figure by another route
    videos = [v for v, _ in report.scored]
    direct = np.mean([by_path[v.path][v.indices[uniform_frames(len(v.x), 4)]].mean() for v in videos])
    assert report.result("uniform", 4).selection_precision == pytest.approx(direct)
    pooled = np.mean([v.probs[by_path[v.path][v.indices]].mean(0).argmax() == v.label for v in videos])
    assert report.action_only == pytest.approx(pooled) and report.to_dict()["action_only"] == report.action_only


def test_extract_with_a_bad_segments_file_stops_before_extracting(tmp_path, write_class_folder, small_spec_args, capsys):
    data = write_class_folder(tmp_path / "data", per_class=2)
    bad = tmp_path / "s.json"
    bad.write_text("{")
    code = main(["extract", str(data), "--store", str(tmp_path / "store"), "--quiet", "--segments", str(bad),
                 *small_spec_args])
    err = capsys.readouterr().err
    assert code != 0 and f"{bad}: not valid JSON" in err and "Traceback" not in err
    assert not (tmp_path / "store").exists()


def test_real_annotations_of_ucf101_9(ucf101_9):
    """The real UCF101-24 annotations shipped beside the clips: 100 Basketball and BasketballDunk
    videos, their `frames` as their seconds give them at 25 fps, the action a part of each clip."""
    segs = read_segments(ucf101_9 / "segments.json")
    data = json.loads((ucf101_9 / "segments.json").read_text())["database"]
    assert len(segs) == 100
    share = {"Basketball": [], "BasketballDunk": []}
    for name, video in data.items():
        frames = np.arange(video["frame_count"]) / video["fps"]
        inside = inside_segments(frames, segs[video_name(name)])
        listed = np.zeros(video["frame_count"], bool)
        for a in video["annotations"]:  # the file's own [first, end) frames, from its rounded seconds
            listed[a["frames"][0]:a["frames"][1]] = True
        assert np.array_equal(inside, listed), name
        share[video["annotations"][0]["label"]].append(inside.mean())
    assert 0.3 < np.mean(share["Basketball"]) < 0.45 and 0.45 < np.mean(share["BasketballDunk"]) < 0.6


def test_annotated_target_puts_the_action_first():
    p = np.array([0.9, 0.1, 0.5, 0.2, 0.8], np.float32)
    inside = np.array([False, True, True, False, False])
    rank = annotated_target(p, inside, "rank")
    assert rank[inside].min() > rank[~inside].max()  # every action frame above every other
    assert rank[2] > rank[1] and rank[0] > rank[4] > rank[3]  # the oracle's order kept on each side
    np.testing.assert_allclose(annotated_target(p, inside, "probability"), [0, 0.1, 0.5, 0, 0])


def test_training_uses_the_annotations_it_is_told_to(tmp_path, make_toy_store):
    """On the toy store the useful frames are the action: a head trained on them alone reads the
    action frames better than one trained on every frame (most of which carry no class signal)."""
    masks = make_toy_store(tmp_path, classes=3, per_class=12)
    store = tmp_path / "store"
    with FeatureStore.open(store) as s:
        s.set_segments(read_segments(_segments_csv(tmp_path / "s.csv", {r.path: masks[r.id] for r in s.records()})))
    logs = {}
    for use in ANNOTATIONS:
        said = []
        ckpt, _ = train_selector(store, None, TrainConfig(epochs=1, annotations=use), progress=False, log=said.append)
        logs[use] = (ckpt, said[0])
    assert "annotated" not in logs["ignore"][1] and "24 annotated: head on their action, even outside it" in logs["head"][1]
    assert "target ranks the action first" in logs["target"][1]
    assert "--annotations auto chose" in logs["auto"][1]
    assert logs["auto"][0].meta["training"]["annotations"] in ("target", "ignore")  # stored as chosen
    # the frame evidence where annotations keep the action apart, and only there
    assert all(logs[use][0].selector.evidence is not None for use in ("head", "target"))
    assert logs["ignore"][0].selector.evidence is None and logs["ignore"][0].selector.cfg.use_evidence is False
    assert (logs["auto"][0].selector.evidence is None) == (logs["auto"][0].meta["training"]["annotations"] == "ignore")
    plain, _ = train_selector(store, None, TrainConfig(epochs=1, annotations="target"), SelectorConfig(use_evidence=False),
                              progress=False, log=lambda m: None)
    assert plain.selector.evidence is None
    # the evidence's reading chosen on the annotated val videos by where the picks fall, unless told
    figures = logs["target"][0].meta["validation"]["evidence_score"]
    assert set(figures) == {"class", "energy"} and all(0 <= f <= 1 for f in figures.values())
    assert logs["target"][0].selector.cfg.evidence_score == ("energy" if figures["energy"] > figures["class"] else "class")
    told, _ = train_selector(store, None, TrainConfig(epochs=1, annotations="target", evidence_score="energy"),
                             progress=False, log=lambda m: None)
    assert told.selector.cfg.evidence_score == "energy" and "evidence_score" not in told.meta["validation"]
    report = evaluate(store, None, (1,), ckpt=logs["head"][0], split="val")
    videos = [v for v, _ in report.scored]
    right = {use: np.mean([(logs[use][0].head.probabilities(v.emb[masks[v.id]]).argmax(1) == v.label).mean()
                           for v in videos]) for use in ("ignore", "head")}
    assert right["head"] >= right["ignore"]


def _videos(rng, centres, kinds, label_of, n_videos, action_share=0.25, T=16):
    """Embeddings of videos of 2 classes: the action's frames at ``centres[label]``, the others at
    ``centres[kinds(label, k)]`` (the k-th video of that class); and their action masks."""
    emb, labels, inside = [], [], []
    for k in range(n_videos):
        label = label_of(k)
        m = np.arange(T) < int(action_share * T)
        around = centres[kinds(label, k)]
        emb.append(np.where(m[:, None], centres[label], around) + rng.normal(size=(T, centres.shape[1])))
        labels.append(label)
        inside.append(m)
    return [e.astype(np.float32) for e in emb], labels, inside


def test_auto_annotations_ask_whether_the_footage_around_the_action_names_the_class():
    """Filler whose look goes with the class in training by chance and not in val: outside the
    action a head on every frame names the class no better than chance, so ``target``. Context that
    names the class (the court around the shot) and an action that looks alike in both classes: the
    frames around the action name it, so ``ignore``. Without annotated val videos the two heads are
    compared by the val videos they get right."""
    rng = np.random.default_rng(0)
    cfg = HeadConfig(in_dim=8, num_classes=2, epochs=100)
    centres = rng.normal(size=(4, 8)) * 3  # 0, 1: the two actions; 2, 3: two kinds of filler
    train = _videos(rng, centres, lambda c, k: 2 + c, lambda k: k % 2, 40)  # class 0 always beside filler 2
    val = _videos(rng, centres, lambda c, k: 3 - c, lambda k: k % 2, 20)  # ... in val beside filler 3
    chosen, named = choose_annotations(*train, *val, cfg)
    assert chosen == "target" and named["outside"] < 0.1 < 0.9 < named["inside"], named
    chosen, acc = choose_annotations(*train, *val[:2], [None] * 20, cfg)
    assert chosen == "target" and acc["target"] > acc["ignore"] + 0.5, acc

    centres = np.concatenate([rng.normal(size=(1, 8)) * 3] * 2 + [rng.normal(size=(2, 8)) * 3])
    centres[1] += 0.05  # the two actions look alike; the context (2 for class 0, 3 for class 1) does not
    train = _videos(rng, centres, lambda c, k: 2 + c, lambda k: k % 2, 40)
    val = _videos(rng, centres, lambda c, k: 2 + c, lambda k: k % 2, 20)
    chosen, named = choose_annotations(*train, *val, cfg)
    assert chosen == "ignore" and named["outside"] > 0.9 and named["inside"] < 0.8, named
    chosen, acc = choose_annotations(*train, *val[:2], [None] * 20, cfg)
    assert chosen == "ignore" and acc["ignore"] > acc["target"] + 0.3, acc


def test_select_sheet_marks_the_frames_inside_the_action(tmp_path, index_frames, monkeypatch, capsys):
    import smartframes.evaluation.plots as plots

    clip = tmp_path / "v_clip.mp4"
    write_video(clip, index_frames(40), fps=10)
    segments = tmp_path / "s.csv"
    segments.write_text("path,start,end\nclip.mp4,1.0,2.0\n")
    drawn, draw = [], plots.contact_sheet
    monkeypatch.setattr(plots, "contact_sheet", lambda sel, frames, out, **kw: (drawn.append((sel, kw)), draw(sel, frames, out, **kw)))
    sheet = tmp_path / "sheet.png"
    assert main(["select", str(clip), "-n", "4", "--sheet", str(sheet), "--segments", str(segments), "--device", "cpu"]) == 0
    sel, kw = drawn[0]
    assert kw["segments"] == [Segment(1.0, 2.0)] and sheet.read_bytes()[:4] == b"\x89PNG"
    assert inside_segments(sel.times, kw["segments"]).sum() == sum(1.0 <= t < 2.0 for t in sel.times)


def test_head_learns_an_even_spread_outside_the_action():
    rng = np.random.default_rng(0)
    C, d = 3, 8
    centres = rng.normal(size=(C + 1, d)) * 4  # the last: frames outside the action
    x = np.concatenate([centres[c] + rng.normal(size=(60, d)) for c in range(C + 1)]).astype(np.float32)
    y = np.concatenate([np.full(60, c) for c in range(C)] + [np.full(60, BACKGROUND)])
    head = train_head(x, y, HeadConfig(in_dim=d, num_classes=C, epochs=300))
    p = head.probabilities(x)
    assert (p[:180].argmax(1) == y[:180]).mean() > 0.95
    assert np.abs(p[180:] - 1 / C).mean() < 0.15  # outside: no class preferred
    assert p[180:].max(1).mean() < 0.55 < p[:180].max(1).mean()
    assert np.array_equal(frame_labels(2, np.array([True, False, True]), 3), [2, BACKGROUND, 2])
