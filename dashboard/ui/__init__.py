"""What every page shares; pages import it as ``from dashboard import ui`` and call ``ui.X``.

* :mod:`dashboard.ui.source`: the data-source picker and :func:`current_dataset`, the dataset
  every page shows (also when a page runs on its own, from ``cache/settings.json``).
* :mod:`dashboard.ui.loaders`: :func:`artifact`, the one cached loader of the engine's artifacts
  (held once per server, read-only), the model loader, and :func:`cache_data` for small results.
* :mod:`dashboard.ui.derived`: small cached results (pixel statistics, saliency maps, uploads),
  and the flag store.
* :mod:`dashboard.ui.widgets`: faces, face grids (clickable), count tables, a progress bar.
* :mod:`dashboard.ui.face_card`: the face card dialog a click on any face opens (:func:`open_card`).
* :mod:`dashboard.ui.selection`: the current selection shared by every page (session state and
  URL), and its sidebar summary.
* :mod:`dashboard.ui.bulk`: flag a whole set of images (with undo), export it as CSV or PNGs.

A page's own panels live beside it in ``dashboard/panels/<page>.py``; figures and every
composition of engine results come from ``fer_core``.
"""
from dashboard.ui.derived import (analyze_upload, attribution, class_histograms, demo_photo_bytes,
                                  flag_store, image_table, pixel_stats, sanity_result)
from dashboard.ui.loaders import (HASH_FUNCS, LOADERS, artifact, artifact_cached, cache_data, checkpoint_info,
                                  compute_artifact, load_model, require_models, shipped_models)
from dashboard.ui.source import (PAGES_DIR, ROOT, SAMPLE, SETTINGS, current_dataset, current_source,
                                 data_source_sidebar, load_source, save_source, saved_source, source_files,
                                 store)
from dashboard.ui.bulk import DECISION_TEXT, export_buttons, flag_all, rows_csv
from dashboard.ui.selection import (clear_selection, current_selection, offer_selection, selection_sidebar,
                                    selection_summary, selection_warning, set_selection)
from dashboard.ui.widgets import (BAD_RGB, CLASS_COLORS, NONE_RGB, OK_RGB, describe, face_grid, grid_captions,
                                  label_name, pick_gallery, run_with_progress, show_counts, show_face,
                                  show_grid, votes_chart)
from dashboard.ui.face_card import open_card, similar_faces, similar_to_crop

__all__ = [
    "analyze_upload", "attribution", "class_histograms", "demo_photo_bytes", "flag_store", "image_table", "pixel_stats",
    "sanity_result", "HASH_FUNCS", "LOADERS", "artifact", "artifact_cached", "cache_data", "checkpoint_info",
    "compute_artifact", "load_model", "require_models", "shipped_models", "store", "PAGES_DIR", "ROOT", "SAMPLE",
    "SETTINGS", "current_dataset", "current_source", "data_source_sidebar", "load_source", "save_source",
    "saved_source", "source_files", "BAD_RGB", "CLASS_COLORS", "NONE_RGB", "OK_RGB", "describe", "grid_captions",
    "label_name", "pick_gallery", "run_with_progress", "show_counts", "show_face", "show_grid",
    "votes_chart", "face_grid", "open_card", "similar_faces", "similar_to_crop", "DECISION_TEXT", "export_buttons", "flag_all",
    "rows_csv", "clear_selection", "current_selection", "offer_selection", "selection_sidebar",
    "selection_summary", "selection_warning", "set_selection",
]
