"""Experiments: accuracy vs training-set size (learning curve), accuracy vs cost over model sizes."""
from pathlib import Path

from dashboard import ui

import pandas as pd
import streamlit as st

from fer_core.figures import experiments as xf
from fer_core.training.experiments import PEERS, SHIPPED_RESULTS, curve_trend, learning_curve, load_results

RERUN_DATA = ("python -m fer_core.experiments data-size --data fer2013.csv.gz --model compact "
              "--fractions 0.05,0.1,0.25,0.5,1.0 --seeds 3 --out my_curve.json")
RERUN_SIZE = "python -m fer_core.experiments model-size --out my_sizes.json"


def result_picker(kind: str, key: str) -> dict | None:
    """The shipped result of `kind`, or a result file the user names; None (with a message) when unreadable."""
    path = st.text_input(f"{kind} result file", value="", key=key, placeholder=f"shipped: {SHIPPED_RESULTS[kind].name}",
                         help="A JSON file written by the command below with --out (empty: the shipped result).")
    doc = load_results(kind, path.strip() or None)
    if doc is None and path.strip():
        st.error(f"`{path.strip()}` is not a readable {kind} result file (missing, not JSON, or another kind).")
    elif doc is None:
        st.info(f"No shipped {kind} result in `fer_core/training/results/`: run the command below.")
    return doc


def table(df: pd.DataFrame, formats: dict) -> None:
    st.dataframe(df, hide_index=True, width="stretch", height=35 * (len(df) + 1) + 3,
                 column_config={c: st.column_config.NumberColumn(format=f) for c, f in formats.items()})


def reference(cfg: dict, metric: str) -> tuple[str, float] | None:
    """The shipped checkpoint of the curve's model and width, as a level to compare the curve with."""
    split = {"private_acc": "PrivateTest", "public_acc": "PublicTest"}.get(metric)
    for name in ui.shipped_models() if split else []:
        info = ui.checkpoint_info(name)
        acc = ((info.get("metrics") or {}).get(split) or {}).get("accuracy")
        if info.get("model_name") == cfg["model"] and info["model_kwargs"].get("width") == cfg["width"] and acc:
            return f"shipped {name}: all data, {info['train_config'].get('epochs')} epochs ({acc:.1%})", acc
    return None


def provenance(doc: dict) -> None:
    cfg = ", ".join(f"{k} {v}" for k, v in doc["config"].items() if v not in ("", []))
    st.caption(f"Produced {doc.get('created', '?')[:10]} on {doc.get('machine', '?')} by  \n"
               f"`{doc['command']}`  \nConfig: {cfg}.")


def data_size() -> None:
    """Accuracy vs training-set size: the learning curve."""
    doc = result_picker("data-size", "ds_path")
    if doc:
        cfg = doc["config"]
        runs = [{"batch_size": cfg["batch_size"], **r} for r in doc["rows"]]
        c1, c2 = st.columns([1, 2])
        metric = c1.radio("Metric", list(xf.METRICS), format_func=xf.METRICS.get, horizontal=False)
        curve = learning_curve(runs, metric=metric)
        t = curve_trend(curve)
        seeds = int(curve["n"].max())
        with c2:
            src = Path(doc.get("data_source", "?")).name
            st.markdown(
                f"**{cfg['model']}** (width {cfg['width']:g}) trained on stratified, seeded subsets of the "
                f"Training split of *{src}*, {seeds} seed{'s' if seeds > 1 else ''} per size, "
                + (f"about {cfg['min_steps']:,} optimizer steps each ({curve['epochs'].min():.0f} to "
                   f"{curve['epochs'].max():.0f} epochs)" if cfg.get("min_steps") else f"{cfg['epochs']} epochs")
                + "; each run keeps its best PublicTest epoch and is scored on PrivateTest.")
            if t:
                noise = (f" (seed noise ±{t['noise'] * 100:.1f})" if t["noise"] is not None
                         else " (one seed: no noise estimate)")
                verdict = ("**still rising**: more data should still help" if t["rising"]
                           else "**flat**: more data alone helps little here")
                st.markdown(f"From {t['from']:.0%} to {t['to']:.0%} of the data: "
                            f"{t['gain_per_doubling'] * 100:+.1f} accuracy points per doubling{noise}, {verdict}.")
            budget = curve["steps"].max() * cfg["batch_size"] / curve["n_train"].max()  # full-data epochs of compute
            if budget < 10:
                st.info(f"Short runs ({curve['steps'].min():,.0f} to {curve['steps'].max():,.0f} optimizer steps, at most "
                        f"{budget:.1f} passes over the full Training split): a CPU budget. Accuracy here is limited by "
                        "training steps as much as by data, and sits far below a fully trained model's; read the curve as "
                        "what this budget buys. A GPU rerun with the default 30 epochs measures the data effect.",
                        icon=":material/info:")
        st.altair_chart(xf.learning_curve_chart(runs, metric=metric, reference=reference(cfg, metric)),
                        key=f"curve_{metric}")
        mean = f"mean {xf.METRICS[metric].split(' (')[0]}"
        tbl = curve.rename(columns={"n_train": "training images", "mean": mean, "std": "std over seeds", "n": "seeds"})
        table(tbl.drop(columns="sem"), {"fraction": "%.2f", "training images": "localized", "epochs": "%.0f",
                                        "steps": "localized", mean: "percent", "std over seeds": "percent"})
        provenance(doc)
    st.markdown("Rerun (resumes from the cache; each (model, fraction, seed) run is stored once):")
    st.code(RERUN_DATA, language="bash", wrap_lines=True)


def model_size() -> None:
    """Accuracy vs cost over model sizes."""
    doc = result_picker("model-size", "ms_path")
    if doc:
        rows = doc["rows"]
        cost = st.radio("Cost axis", list(xf.COSTS), index=3, horizontal=True, format_func=lambda c: xf.COSTS[c][0])
        st.altair_chart(xf.cost_accuracy_chart(rows, cost=cost), key=f"pareto_{cost}")
        peers = ", ".join(f"{p['name']} {p['accuracy']:.1%} at {p['file_kb']} KB" for p in PEERS)
        st.caption(f"Accuracy only for trained checkpoints (untrained architectures sit in the lower strip, cost only; "
                   f"no accuracy is estimated). Published peers ({peers}, as given in issue 9) appear on the "
                   f"file-size axis only: their other costs were not measured here.")
        df = pd.DataFrame(rows)
        df["MACs (M)"] = df["macs"] / 1e6
        df["params (M)"] = df["params"] / 1e6
        df["file (KB)"] = df["file_bytes"] / 1024
        df["accuracy"] = [f"{a:.1%}" if pd.notna(a) else "—" for a in df["accuracy"]]
        show = df[["model", "width", "checkpoint", "params (M)", "MACs (M)", "latency_ms", "file (KB)", "accuracy",
                   "accuracy_note"]].rename(columns={"latency_ms": "latency (ms)", "accuracy_note": "accuracy from"})
        table(show, {"params (M)": "%.2f", "MACs (M)": "%.1f", "latency (ms)": "%.2f", "file (KB)": "%.0f"})
        provenance(doc)
    st.markdown("Rerun:")
    st.code(RERUN_SIZE, language="bash", wrap_lines=True)
    st.caption("Train a missing architecture to give it an accuracy: `python -m fer_core.train --data fer2013.csv.gz "
               "--model resnet18 --out fer_core/models/weights/resnet18.pt` (minutes on a GPU); it then appears as trained.")


st.title("Experiments")
st.caption("Read-only views of result files: the dashboard never trains. The shipped results come from the "
           "commands shown under each chart; rerun them (GPU used when present) and open your file here.")
# Lazy tabs: only the open one runs and is drawn.
SECTIONS = {"Accuracy vs training-set size": data_size, "Accuracy vs cost": model_size}
for tab, section in zip(st.tabs(list(SECTIONS), key="xp_tab", on_change="rerun"), SECTIONS.values()):
    if tab.open:
        with tab:
            section()
