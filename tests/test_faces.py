"""Photo decoding, face detection and crops (fer_core.analysis.faces) on photos made from the bundled sample."""
import numpy as np
import pytest

from fer_core.analysis import faces as F
from fer_core.data.dataset import load_dataset
from fer_testutils import photo_zoo


@pytest.fixture(scope="module")
def sample():
    return load_dataset()


@pytest.fixture(scope="module")
def demo(sample):
    return F.demo_photo(sample.images, sample.labels, n=3, seed=0)


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    return iw * ih / (aw * ah + bw * bh - iw * ih)


def test_blank_and_tiny_images_have_no_face():
    for img in (np.full((480, 640, 3), 200, np.uint8), np.zeros((480, 640), np.uint8),
                np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8), np.zeros((5, 7), np.uint8)):
        boxes = F.detect_faces(img)
        assert boxes.shape == (0, 4) and boxes.dtype == np.int64


def test_finds_every_face_of_a_demo_photo(demo, sample):
    rgb, pasted, rows = demo
    assert rgb.shape == (480, 640, 3) and len(rows) == 3
    assert len(set(sample.labels[rows])) == 3  # three different expressions
    boxes = F.detect_faces(rgb)
    assert len(boxes) == 3
    for b, p in zip(boxes, pasted):  # both left to right
        assert iou(b, p) > 0.4, (b, p)


def test_detection_is_size_and_colour_invariant(demo):
    import cv2

    rgb, pasted, _ = demo
    big = cv2.resize(rgb, (1920, 1440), interpolation=cv2.INTER_LINEAR)  # downscaled for detection
    boxes = F.detect_faces(big)
    assert len(boxes) == 3
    assert all(iou(b, p * 3) > 0.4 for b, p in zip(boxes, pasted))
    assert len(F.detect_faces(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))) == 3


def test_crop_face_frames_and_pads(sample):
    img = sample.images[0]
    photo = np.pad(img, 20, constant_values=0)
    crop = F.crop_face(photo, [20, 20, 48, 48], margin=0.0)
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    np.testing.assert_array_equal(crop, img)  # the box itself, no margin
    edge = F.crop_face(photo, [-10, -10, 30, 30], margin=0.2)  # partly outside: edge-replicated
    assert edge.shape == (48, 48)
    with pytest.raises(ValueError):
        F.crop_face(photo, [0, 0, 0, 10])


def test_analyze_photo(demo):
    from fer_core.models.checkpoint import load_checkpoint, shipped_checkpoints

    if not shipped_checkpoints():
        pytest.skip("no shipped checkpoint")
    model, _ = load_checkpoint(shipped_checkpoints()[0])
    rgb, _, _ = demo
    faces = F.analyze_photo(rgb, model)
    assert len(faces) == 3
    for f in faces:
        assert f["crop"].shape == (48, 48) and f["probs"].shape == (len(model.classes),)
        assert abs(f["probs"].sum() - 1) < 1e-5 and f["label"] == int(f["probs"].argmax())
    whole = F.analyze_photo(rgb, model, detect=False)
    assert len(whole) == 1 and whole[0]["box"] == [0, 0, 640, 480]
    assert F.analyze_photo(np.full((100, 100), 128, np.uint8), model) == []


def test_load_photo_zoo(demo):
    rgb, _, _ = demo
    for name, (data, readable) in photo_zoo(rgb).items():
        if not readable:
            with pytest.raises(F.ImageError) as e:
                F.load_photo(data)
            assert len(str(e.value)) > 10, name
            continue
        photo = F.load_photo(data)
        h, w = photo.rgb.shape[:2]
        assert photo.rgb.dtype == np.uint8 and photo.rgb.shape[2] == 3 and photo.gray.shape == (h, w), name
        if name == "exif_rotated.jpg":
            assert (w, h) == (480, 640) and any("EXIF" in n for n in photo.notes)
        else:
            assert (w, h) == (640, 480), name
        if name == "sixteen_bit.png":  # scaled, not clipped to white
            assert any("16-bit" in n for n in photo.notes)
            assert abs(float(photo.gray.mean()) - float(F.as_gray(rgb).mean())) < 3
        if name.startswith("animated"):
            assert any("first frame" in n for n in photo.notes)


def test_load_photo_messages(tmp_path):
    with pytest.raises(F.ImageError, match="empty"):
        F.load_photo(b"")
    with pytest.raises(F.ImageError, match="not an image"):
        F.load_photo(b"hello")
    with pytest.raises(F.ImageError, match="too large"):
        from fer_testutils import png_bomb
        F.load_photo(png_bomb())
    with pytest.raises(F.ImageError, match="cannot read"):
        F.load_photo(tmp_path / "missing.jpg")
    with pytest.raises(F.ImageError, match="folder"):
        F.load_photo(tmp_path)


def test_draw_boxes(demo):
    rgb, pasted, _ = demo
    out = F.draw_boxes(rgb, pasted, ["a", "b", "c"])
    assert out.shape == rgb.shape and not np.array_equal(out, rgb)
    assert np.array_equal(F.draw_boxes(rgb, np.zeros((0, 4))), rgb)


def test_demo_and_synthetic_photos_name_bad_faces():
    with pytest.raises(ValueError, match=r"faces must be \(N, 48, 48\) uint8.*got \(2, 32, 32\)"):
        F.synthetic_photo(np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"labels must be \(3,\) integers"):
        F.demo_photo(np.zeros((3, 48, 48), np.uint8), np.zeros(2, int))
