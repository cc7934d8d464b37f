"""Vega-Lite charts a page draws first: the data they carry, the clickable confusion cell."""
import numpy as np
import pandas as pd

from fer_core.figures import style
from fer_core.figures import data as data_figs
from fer_core.figures import face as face_figs
from fer_core.figures import label_errors as le_figs
from fer_core.figures import model as model_figs
from fer_core.figures import saliency as saliency_figs


def _rows(chart) -> pd.DataFrame:
    """The one inline dataset of an Altair chart, as a frame."""
    spec = chart.to_dict()
    (values,) = spec["datasets"].values()
    return pd.DataFrame(values)


def test_confusion_chart_carries_each_cell_and_its_indices():
    cm = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 0]])  # the last row is empty: no division by zero
    names = ["a", "b", "c"]
    counts = _rows(model_figs.confusion_chart(cm, names))
    assert len(counts) == 9
    row = counts[(counts.t == 0) & (counts.p == 1)].iloc[0]
    assert (row["true"], row["predicted"], row["images"], row["text"]) == ("a", "b", 2, "2")
    shares = _rows(model_figs.confusion_chart(cm, names, normalize=True)).set_index(["t", "p"])
    assert shares.loc[(0, 0), "value"] == 0.8 and shares.loc[(1, 1), "text"] == "75%"
    assert shares.loc[(2, 2), "value"] == 0.0
    assert shares["dark"].sum() == 2  # 80% and 75% are above 0.55 of the largest share: white text
    spec = model_figs.confusion_chart(cm, names).to_dict()
    params = spec.get("params", []) + [p for layer in spec["layer"] for p in layer.get("params", [])]
    assert params and params[0]["name"] == "cell" and params[0]["select"]["fields"] == ["t", "p"]
    assert spec["usermeta"]["embedOptions"]["renderer"] == "svg"


def test_confusion_cell_reads_the_click_back():
    assert model_figs.confusion_cell({"cell": [{"t": 2, "p": 4}]}) == (2, 4)
    assert model_figs.confusion_cell({"cell": {"t": [5], "p": [0]}}) == (5, 0)
    assert model_figs.confusion_cell({"cell": []}) is None
    assert model_figs.confusion_cell({"cell": {}}) is None
    assert model_figs.confusion_cell(None) is None


def test_class_probs_chart_marks_top_class_and_label():
    probs = np.array([0.1, 0.6, 0.3])
    rows = _rows(face_figs.class_probs_chart(probs, ["x", "y", "z"], label=2))
    assert rows["name"].tolist() == ["x", "y", "z (label)"]
    assert rows["fill"].tolist() == [style.OTHER, style.TOP, style.OTHER]
    assert rows["edge"].tolist() == ["transparent", "transparent", style.LABEL_EDGE]
    assert rows["text"].tolist() == ["10%", "60%", "30%"]
    assert (_rows(face_figs.class_probs_chart(probs, ["x", "y", "z"]))["edge"] == "transparent").all()  # no label


def test_class_probs_axis_ends_at_100_percent():
    """Issue 17: the probability axis ran to 110% (room kept for the value written after a bar)."""
    chart = face_figs.class_probs_chart(np.array([0.02, 0.95, 0.03]), ["x", "y", "z"])
    spec = chart.to_dict()
    scales = [layer["encoding"]["x"].get("scale") for layer in spec["layer"]]
    assert all(sc == {"domain": [0, 1], "nice": False} for sc in scales), scales
    rows = _rows(chart)
    assert rows["inside"].tolist() == [False, True, False]  # 95% is written inside its bar, in white
    inside = next(layer for layer in spec["layer"] if layer["mark"].get("color") == "white")
    assert inside["transform"] == [{"filter": "datum.inside"}] and inside["mark"]["align"] == "right"


def test_votes_chart_marks_majority_and_fer2013_column():
    rows = _rows(face_figs.votes_chart([0, 7, 3], ["neutral", "happiness", "sadness"], majority=1, label_column=2))
    assert rows["name"].tolist() == ["neutral", "happiness", "sadness (FER2013)"]
    assert rows["value"].tolist() == [0, 7, 3] and rows["fill"].tolist() == [style.OTHER, style.TOP, style.OTHER]


def test_per_class_chart_has_three_scores_per_class():
    pc = pd.DataFrame({"precision": [0.5, 0.9], "recall": [0.4, 0.8], "f1": [0.44, 0.85], "support": [10, 20]},
                      index=["angry", "happy"])
    rows = _rows(model_figs.per_class_chart(pc))
    assert len(rows) == 6 and set(rows["score"]) == {"precision", "recall", "f1"}
    assert rows.set_index(["class", "score"]).loc[("happy", "recall"), "value"] == 0.8


def test_robustness_summary_chart_means_over_severities_and_clean_rules():
    from fer_core.analysis.robustness import CORRUPTIONS
    acc = {("a", "gaussian_noise"): [[0.8, 0.6, 0.4], [0.8, 0.5, 0.3]],  # 2 repeats x 3 levels (level 0 = clean)
           ("a", "jpeg"): [[0.8, 0.7, 0.7], [0.8, 0.7, 0.7]],
           ("b", "jpeg"): [[0.5, 0.2, 0.0], [0.5, 0.2, 0.0]]}
    from fer_core.figures.robustness import summary_chart
    chart = summary_chart({k: {"accuracy": np.array(v)} for k, v in acc.items()}, ["a", "b", "c"])
    data = [pd.DataFrame(v) for v in chart.to_dict()["datasets"].values()]
    bars = next(d for d in data if "corruption" in d).set_index(["model", "corruption"])
    clean = next(d for d in data if "clean" in d).set_index("model")
    noise, jpeg = CORRUPTIONS["gaussian_noise"].title, CORRUPTIONS["jpeg"].title
    assert bars.loc[("a", noise), "accuracy"] == np.mean([0.6, 0.4, 0.5, 0.3])
    assert bars.loc[("a", jpeg), "text"] == "70%" and bars.loc[("b", jpeg), "accuracy"] == 0.1
    assert len(bars) == 3  # model c has no sweep: no bar, no rule
    assert clean["clean"].to_dict() == {"a": 0.8, "b": 0.5}


def test_reliability_topk_and_history_charts_carry_their_numbers():
    bins = [{"confidence": 0.3, "accuracy": 0.2, "count": 5}, {"confidence": 0.5, "accuracy": 0.0, "count": 0},
            {"confidence": 0.9, "accuracy": 0.85, "count": 40}]
    spec = model_figs.reliability_chart(bins, 0.071).to_dict()
    data = [pd.DataFrame(v) for v in spec["datasets"].values()]
    model = next(d for d in data if "count" in d)
    assert model["count"].tolist() == [5, 40]  # the empty bin is left out
    assert spec["title"]["text"] == "Reliability (ECE 0.071)"
    top = _rows(model_figs.topk_chart([0.6, 0.8, 0.9]))
    assert top["k"].tolist() == [1, 2, 3] and top["text"].tolist() == ["60.0%", "80.0%", "90.0%"]
    hist = [{"epoch": 1, "train_loss": 1.5, "val_loss": 1.6, "train_acc": 0.4, "val_acc": 0.38},
            {"epoch": 2, "train_loss": 1.2, "val_loss": 1.4, "train_acc": 0.5, "val_acc": 0.45, "val_top3": 0.8}]
    h = pd.concat([pd.DataFrame(v) for v in model_figs.history_chart(hist).to_dict()["datasets"].values()]).drop_duplicates()
    assert len(h) == 9  # 4 series x 2 epochs + top-3 at epoch 2 only
    assert h.set_index(["panel", "series", "epoch"]).loc[("accuracy", "PublicTest", 2), "value"] == 0.45


def _sweeps():
    """Two models; model a: gaussian_noise (2 repeats, 3 levels), model b: jpeg only."""
    counts = np.array([10, 30, 5, 5, 0, 0, 0])
    return {("a", "gaussian_noise"): {"accuracy": np.array([[0.8, 0.6, 0.4], [0.8, 0.5, 0.2]]), "levels": [0, 0.05, 0.1],
                                      "class_counts": counts,
                                      "class_accuracy": np.zeros((2, 3, 7))},
            ("b", "jpeg"): {"accuracy": np.array([[0.7, 0.5]]), "levels": [100, 10], "class_counts": counts,
                            "class_accuracy": np.zeros((1, 2, 7))}}


def test_severity_frame_and_chart_panels():
    from fer_core.analysis.robustness import summarize
    from fer_core.figures.robustness import repeats_chart, severity_frame, severity_panels
    res = _sweeps()
    f = severity_frame(res, ["a", "b"], "gaussian_noise")
    assert f["model"].unique().tolist() == ["a"] and f["level"].tolist() == [0, 1, 2]
    s = summarize(res[("a", "gaussian_noise")])
    assert np.allclose(f["mean"], s["mean"]) and np.allclose(f["hi"] - f["lo"], 2 * s["std"])
    assert f["repeats"].tolist() == [2, 2, 2]
    panels = severity_panels(res, ["a", "b"], ["gaussian_noise", "jpeg", "rotation"], width=200)
    assert [p.to_dict()["title"] for p in panels] == ["Gaussian noise", "JPEG compression"]  # rotation has no sweep: no panel
    assert all(p.to_dict()["width"] == 200 for p in panels)  # fixed panels: the page wraps them at its width
    box = _rows(repeats_chart(res, ["a", "b"], "gaussian_noise", 2))
    assert box["accuracy"].tolist() == [0.4, 0.2] and box["repeat"].tolist() == [1, 2]


def test_class_heatmap_writes_white_on_dark_cells():
    """Issue 17: black numbers on the dark-red cells (accuracy near 0) of the per-class heatmap."""
    from fer_core.figures.robustness import class_heatmap
    from fer_core.figures.style import dark_cells
    res = _sweeps()[("a", "gaussian_noise")]
    acc = np.zeros((2, 3, 7))
    acc[:, :, 0], acc[:, :, 1], acc[:, :, 2], acc[:, :, 3] = 0.02, 0.5, 0.99, 0.2  # dark red, pale, dark green, red
    acc[:, :, 4:] = np.nan  # classes without an image
    chart = class_heatmap({**res, "class_accuracy": acc}, "gaussian_noise", [f"c{k}" for k in range(7)])
    cells = _rows(chart).set_index("cls")
    assert cells.loc["c0 (10)", "dark"].all() and cells.loc["c2 (5)", "dark"].all()
    assert not cells.loc["c1 (30)", "dark"].any() and not cells.loc["c3 (5)", "dark"].any()
    assert not cells.loc["c4 (0)", "dark"].any()  # no image: "—" on an empty cell
    text = next(layer for layer in chart.to_dict()["layer"] if layer["mark"]["type"] == "text")
    assert text["encoding"]["color"]["condition"] == {"test": "datum.dark", "value": "white"}
    assert dark_cells([0.0, 0.5, 1.0, np.nan]).tolist() == [True, False, True, False]


def test_explained_variance_and_randomization_charts():
    spec = data_figs.explained_variance_chart({"all": np.array([0.5, 0.3, 0.2]), "happy": np.array([0.7, 0.3])},
                                       k_target=2).to_dict()
    data = pd.concat([pd.DataFrame(v) for v in spec["datasets"].values()])
    curve = data.dropna(subset=["fit"]).set_index(["fit", "components"])["cumulative"]
    assert curve[("all", 2)] == 0.8 and curve[("happy", 2)] == 1.0
    assert "2 components reach 90%" in data["text"].dropna().tolist()
    rho = np.array([[[0.9, 0.7], [0.1, 0.3]], [[0.95, 0.9], [0.9, 0.8]]])  # (methods, layers, images)
    res = {"layers": ["head", "conv"], "methods": ["saliency", "ig"], "rho": rho, "rho_mean": rho.mean(2)}
    rows = _rows(saliency_figs.randomization_chart(res, {"saliency": "Saliency"}, {"ig": True}))
    assert rows["method"].unique().tolist() == ["Saliency", "ig ⚠"]
    first = rows.iloc[0]
    assert (first["rho"], first["lo"], first["hi"]) == (0.8, 0.75, 0.85)  # mean and 25-75th percentiles
    assert rows["flagged"].tolist() == [False, False, True, True]


def test_split_counts_and_crosstab_charts():
    counts = pd.DataFrame({"Training": [5, 7], "PublicTest": [1, 2], "total": [6, 9]}, index=["angry", "happy"])
    bars = _rows(data_figs.split_counts_chart(counts)).set_index(["class", "split"])["images"]
    assert len(bars) == 4 and bars[("happy", "PublicTest")] == 2  # the total column is not drawn
    xt = pd.DataFrame([[8, 2], [0, 0]], index=["angry", "fear"], columns=["anger", "fear"])
    cells = _rows(data_figs.crosstab_chart(xt, row_title="FER2013", col_title="FER+")).set_index(["row", "col"])
    assert cells.loc[("angry", "anger"), "share"] == 0.8 and cells.loc[("angry", "anger"), "count"] == 8
    assert cells.loc[("fear", "fear"), "share"] == 0.0  # an empty row: no division by zero
    assert cells["dark"].sum() == 1


def test_split_share_box_lines_and_precision_charts():
    counts = pd.DataFrame({"Training": [1, 3], "PublicTest": [2, 2], "total": [3, 5]}, index=["angry", "happy"])
    shares = _rows(data_figs.split_counts_chart(counts, share=True)).set_index(["class", "split"])["share"]
    assert shares[("happy", "Training")] == 0.75 and shares[("angry", "PublicTest")] == 0.5
    from fer_core.data.images import box_stats
    v = np.r_[np.arange(1, 6), np.arange(10, 15)].astype(float)
    stats = box_stats(v, np.repeat([0, 1], 5), 2)
    box = _rows(data_figs.box_chart(stats, ["a", "b"], ["#111111", "#222222"], title="t"))
    assert box["median"].tolist() == [3.0, 12.0] and box["q1"].tolist() == [2.0, 11.0] and box["n"].tolist() == [5, 5]
    lines = _rows(data_figs.lines_chart([0.5, 1.5], {"a": np.array([0.2, 0.8]), "b": np.array([0.5, 0.5])}, ["#111", "#222"],
                                 title="t", x_title="x"))
    assert lines.set_index(["series", "x"]).loc[("a", 1.5), "y"] == 0.8 and len(lines) == 4
    table = pd.DataFrame({"P@100": [0.9, 0.5, 0.37], "P@500": [0.8, 0.45, 0.37]}, index=["ensemble", "loss", "base rate"])
    spec = le_figs.precision_at_k_chart(table).to_dict()
    data = [pd.DataFrame(d) for d in spec["datasets"].values()]
    bars = next(d for d in data if "method" in d).set_index(["method", "k"])
    assert len(bars) == 4 and bars.loc[("ensemble", "P@500"), "p"] == 0.8  # the base rate is a rule, not bars
    assert next(d for d in data if "method" not in d)["p"].tolist() == [0.37]
    assert "base rate 0.37" in spec["title"]
