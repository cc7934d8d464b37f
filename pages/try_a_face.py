"""Try a face: upload or take a photo; every face found, its expression and a saliency map."""

from dashboard import ui

import numpy as np
import streamlit as st

from fer_core.figures import face as face_figs
from fer_core.analysis.attribute import METHODS, overlay
from fer_core.analysis.faces import MAX_FILE_BYTES, MAX_PIXELS, UPLOAD_TYPES, draw_boxes

#: The largest photo the page takes. The uploader lets files up to MAX_FILE_BYTES through, so one
#: over this limit reaches the page and is refused in plain sight (the browser's own refusal of a
#: file over the uploader's limit shows its reason only on hover).
UPLOAD_LIMIT_MB = 10

st.title("Try a face")
models = ui.require_models()
c = st.columns([1, 1.2, 1])
model = c[0].selectbox("Model", models, key="taf_model")
method = c[1].selectbox("Saliency method", list(METHODS), index=list(METHODS).index("gradcam"),
                        format_func=METHODS.get, key="taf_method",
                        help="See the Saliency page's sanity check before trusting a method.")
source = c[2].radio("Photo", ["Upload", "Webcam", "Sample photo"], horizontal=True, key="taf_source")

if source == "Upload":
    up = st.file_uploader(f"A photo with one or more faces (up to {UPLOAD_LIMIT_MB} MB)", type=list(UPLOAD_TYPES),
                          key="taf_upload", max_upload_size=MAX_FILE_BYTES // 2**20,
                          help=f"JPEG, PNG, WebP or BMP, up to {UPLOAD_LIMIT_MB} MB and {MAX_PIXELS // 1_000_000} "
                               "megapixels.")
    if up is not None and up.size > UPLOAD_LIMIT_MB * 2**20:
        st.error(f"**{up.name}** is {up.size / 2**20:.1f} MB: over the limit of {UPLOAD_LIMIT_MB} MB per photo. "
                 "Save it smaller (e.g. as a JPEG, or at a lower resolution) and upload it again.",
                 icon=":material/file_present:")
        st.stop()
elif source == "Webcam":
    up = st.camera_input("Take a photo", key="taf_camera")
else:
    up = None
    st.caption("Three faces from the bundled FER2013 sample, upscaled and pasted on a 640×480 canvas.")
data, fname = (up.getvalue(), up.name) if up is not None else (
    (ui.demo_photo_bytes(), "sample.png") if source == "Sample photo" else (None, None))
if data is None:
    st.info("Upload a photo or take one with the webcam; faces are found with OpenCV's Haar cascade, cropped, "
            "turned grey and resized to 48×48 like the FER2013 images the model learned from.")
    st.stop()

photo, faces, err = ui.analyze_upload(data, model, True)
if err:
    st.error(f"**{fname}** cannot be used: {err}", icon=":material/broken_image:")
    st.stop()
for note in photo.notes:
    st.caption(f":material/info: {note}")
whole = False
if not faces:
    st.warning(f"No face found in **{fname}** ({photo.size[0]}×{photo.size[1]}). The detector wants a frontal, "
               "upright face at least a tenth of the photo's shorter side.", icon=":material/face_retouching_off:")
    whole = st.checkbox("Use the whole image as one face", key="taf_whole")
    if not whole:
        st.image(photo.rgb, caption=fname, width=min(640, photo.size[0]))
        st.stop()
    _, faces, _ = ui.analyze_upload(data, model, False)

net_classes = list(ui.load_model(model).classes)
labels = [net_classes[f["label"]] for f in faces]
scale = min(1.0, 900 / max(photo.size))
shown = photo.rgb if scale == 1 else photo.rgb[::max(1, int(1 / scale)), ::max(1, int(1 / scale))]
step = photo.rgb.shape[1] / shown.shape[1]
boxes = np.array([f["box"] for f in faces]) / step
st.image(draw_boxes(shown, boxes.round().astype(int), labels if not whole else None),
         caption=f"{fname}: {photo.size[0]}×{photo.size[1]}, "
                 f"{'whole image used as one face' if whole else f'{len(faces)} face(s) found'}",
         width=min(900, shown.shape[1]))
st.markdown(f"**{len(faces)} face{'s' if len(faces) != 1 else ''}** "
            + ("(whole image)" if whole else "found") + f" · model `{model}`")

for k, f in enumerate(faces, 1):
    st.subheader(f"Face {k}: {labels[k - 1]} ({f['probs'][f['label']]:.0%})")
    a, b, c = st.columns([1, 2.2, 1])
    a.image(overlay(f["crop"], np.zeros((48, 48)), alpha=0, scale=4), caption=f"48×48 crop, box {f['box']}")
    top = np.argsort(-f["probs"])[:3]
    a.markdown("**Top 3:** " + " · ".join(f"{net_classes[j]} {f['probs'][j]:.0%}" for j in top))
    b.altair_chart(face_figs.class_probs_chart(f["probs"], net_classes, step=24), key=f"taf_probs_{k}")
    with c, st.spinner(f"{METHODS[method]}..."):
        amap = ui.attribution(model, f["crop"][None], method, int(f["label"]))[0]
        c.image(overlay(f["crop"], amap, scale=4), caption=f"{METHODS[method]} for {labels[k - 1]}")
    if st.toggle("Find similar faces in the dataset", key=f"taf_similar_{k}"):
        ui.similar_to_crop(ui.current_dataset(), f["crop"], model=model, key=f"taf_sim_grid_{k}")
