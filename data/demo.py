"""Embedded demo dataset: synthetic people in the Supervisely project format.

The demo exists so that `make demo` runs the whole product without a
download. It is written in the same format as the Supervisely Person dataset
(meta.json, ds*/img, ds*/ann with polygon and bitmap objects) and goes through
the same reader as the real data.

Every image is painted from its label map, so the masks are exact: a person
drawn as polygons is coloured through the very rasterizer the reader uses, and
a person stored as a bitmap is coloured through that bitmap. Generation is a
pure function of (seed, image index), so the same settings always give the
same bytes, and an existing project with a matching manifest is reused
untouched (its file fingerprints, and so the TFX cache, stay valid).
"""

import base64
import dataclasses
import io
import json
import os
from typing import Dict, List, Sequence, Tuple
import zlib

import numpy as np
from PIL import Image

from data.readers import polygon

MANIFEST = 'demo_manifest.json'
CLASS_POLYGON = 'person_poly'
CLASS_BITMAP = 'person_bmp'
CLASS_NEUTRAL = 'neutral'

META = {
  'classes': [
    {'title': CLASS_POLYGON, 'shape': 'polygon', 'color': '#E0E000'},
    {'title': CLASS_BITMAP, 'shape': 'bitmap', 'color': '#00E0E0'},
    {'title': CLASS_NEUTRAL, 'shape': 'bitmap', 'color': '#808080'},
  ],
  'tags': [],
}

Polygon = List[Tuple[float, float]]
# Background styles, in the order the generator draws them.
BACKGROUNDS = ('gradient', 'stripes', 'checks', 'noise')


@dataclasses.dataclass(frozen=True)
class DemoOptions:
  """The demo's own settings (flags `--demo_<field>`)."""

  images: int = dataclasses.field(
    default=240,
    metadata={'help': 'Number of images of the generated demo dataset.'},
  )

  def __post_init__(self):
    if not (isinstance(self.images, int) and 10 <= self.images <= 100_000):
      raise ValueError(f'demo_images={self.images}: must be in [10, 100000]')


def generate(output_dir: str, options: DemoOptions) -> str:
  """The registry's generator: generate_demo_project with the options."""
  return generate_demo_project(output_dir, options.images)


def generate_demo_project(
  output_dir: str,
  num_images: int = 240,
  seed: int = 0,
  backgrounds: Sequence[str] = BACKGROUNDS,
) -> str:
  """Writes (or reuses) the demo project under `output_dir`; returns its path.

  Images are split over two datasets, `ds1` and `ds2`, as real Supervisely
  projects are. Sizes vary between 112 and 192 pixels per side so that the
  pipeline's resizing and its original-resolution evaluation are exercised.
  Another seed and a subset of BACKGROUNDS make a new set of people in
  another setting (docs/training.md fine-tunes on one).
  """
  backgrounds = _check_backgrounds(backgrounds)
  settings = {'num_images': num_images, 'seed': seed, 'version': 2}
  if backgrounds != BACKGROUNDS:
    settings['backgrounds'] = list(backgrounds)
  manifest_path = os.path.join(output_dir, MANIFEST)
  if _read_json(manifest_path) == settings:
    return output_dir
  os.makedirs(output_dir, exist_ok=True)
  _write_json(os.path.join(output_dir, 'meta.json'), META)
  for index in range(num_images):
    dataset = 'ds1' if index % 3 else 'ds2'
    rng = np.random.default_rng([seed, index])
    image, annotation, extension, _ = render_example(rng, backgrounds)
    name = f'demo-{index:04d}.{extension}'
    img_dir = os.path.join(output_dir, dataset, 'img')
    ann_dir = os.path.join(output_dir, dataset, 'ann')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    _save_image(image, os.path.join(img_dir, name), extension)
    _write_json(os.path.join(ann_dir, name + '.json'), annotation)
  _write_json(manifest_path, settings)
  return output_dir


def render_example(
  rng: np.random.Generator, backgrounds: Sequence[str] = BACKGROUNDS
):
  """(RGB uint8 image, Supervisely annotation, file extension, label map).

  The label map (0 background, 1 person, 255 neutral) is what the image was
  painted from; reading the annotation must give it back exactly.
  """
  height, width = (int(v) for v in rng.integers(112, 193, size=2))
  image = _background(rng, height, width, backgrounds)
  label_map = np.zeros((height, width), np.uint8)
  objects = []
  for _ in range(int(rng.integers(1, 4))):
    parts = _person_parts(rng, height, width)
    mask = _union(parts, height, width)
    if rng.random() < 0.5:
      objects.append(_bitmap_object(CLASS_BITMAP, mask))
    else:
      objects.extend(_polygon_object(part) for part in parts)
    _paint_person(rng, image, mask, parts)
    label_map[mask] = 1
  if rng.random() < 0.3:
    neutral = _blob(rng, height, width)
    image[neutral] = (
      0.5 * image[neutral] + 0.5 * rng.integers(60, 200, size=3)
    ).astype(np.uint8)
    objects.append(_bitmap_object(CLASS_NEUTRAL, neutral))
    label_map[neutral] = 255
  annotation = {
    'description': '',
    'size': {'height': height, 'width': width},
    'tags': [],
    'objects': objects,
  }
  extension = 'png' if rng.random() < 0.25 else 'jpg'
  return image, annotation, extension, label_map


def _check_backgrounds(backgrounds: Sequence[str]) -> Tuple[str, ...]:
  backgrounds = tuple(backgrounds)
  unknown = sorted(set(backgrounds) - set(BACKGROUNDS))
  if not backgrounds or unknown:
    raise ValueError(
      f'backgrounds={backgrounds}: need one or more of {BACKGROUNDS}'
    )
  return backgrounds


def _background(
  rng: np.random.Generator, height: int, width: int, kinds: Sequence[str]
):
  """A textured background of one of `kinds` (BACKGROUNDS)."""
  yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
  colors = rng.integers(0, 256, size=(2, 3)).astype(np.float32)
  kind = kinds[int(rng.integers(len(kinds)))]
  if kind == 'gradient':
    angle = rng.uniform(0, np.pi)
    t = np.cos(angle) * xx + np.sin(angle) * yy
    t = (t - t.min()) / max(float(np.ptp(t)), 1.0)
  elif kind == 'stripes':
    angle, period = rng.uniform(0, np.pi), rng.uniform(6, 24)
    t = 0.5 + 0.5 * np.sin(
      (np.cos(angle) * xx + np.sin(angle) * yy) * 2 * np.pi / period
    )
  elif kind == 'checks':
    cell = int(rng.integers(8, 24))
    t = ((yy // cell + xx // cell) % 2).astype(np.float32)
  else:
    coarse = rng.random((height // 16 + 2, width // 16 + 2))
    t = (
      np.asarray(
        Image.fromarray((coarse * 255).astype(np.uint8)).resize(
          (width, height), Image.BICUBIC
        ),
        np.float32,
      )
      / 255.0
    )
  image = colors[0] * (1 - t[..., None]) + colors[1] * t[..., None]
  image += rng.normal(0, 12, size=image.shape)
  for _ in range(int(rng.integers(0, 4))):
    distractor = _blob(rng, height, width)
    image[distractor] = rng.integers(0, 256, size=3)
  return np.clip(image, 0, 255).astype(np.uint8)


def _person_parts(
  rng: np.random.Generator, height: int, width: int
) -> List[Polygon]:
  """Polygons of one standing figure: head, torso, two arms, two legs."""
  size = rng.uniform(0.55, 0.95) * height
  cx = rng.uniform(0.15, 0.85) * width
  top = rng.uniform(0.0, max(height - size, 0.0))

  def at(x, y):
    return (cx + x * size, top + y * size)

  head_r = 0.1
  head = [
    at(head_r * np.cos(a) * 0.85, 0.1 + head_r * np.sin(a))
    for a in np.linspace(0, 2 * np.pi, 16, endpoint=False)
  ]
  torso = [at(-0.15, 0.2), at(0.15, 0.2), at(0.12, 0.56), at(-0.12, 0.56)]
  parts = [head, torso]
  for side in (-1, 1):
    angle = rng.uniform(0.05, 0.9)
    parts.append(
      _limb(at(side * 0.14, 0.22), side * angle, 0.36 * size, 0.08 * size)
    )
    angle = rng.uniform(0.0, 0.35)
    parts.append(
      _limb(at(side * 0.06, 0.54), side * angle, 0.45 * size, 0.1 * size)
    )
  return [_clip_polygon(p, height, width) for p in parts]


def _limb(start, angle: float, length: float, thickness: float) -> Polygon:
  """A quadrilateral limb hanging from `start`, rotated outwards by angle."""
  dx, dy = np.sin(angle), np.cos(angle)
  nx, ny = dy * thickness / 2, -dx * thickness / 2
  end = (start[0] + dx * length, start[1] + dy * length)
  return [
    (start[0] + nx, start[1] + ny),
    (end[0] + nx, end[1] + ny),
    (end[0] - nx, end[1] - ny),
    (start[0] - nx, start[1] - ny),
  ]


def _clip_polygon(points: Polygon, height: int, width: int) -> Polygon:
  return [
    (
      float(np.clip(round(x), 0, width - 1)),
      float(np.clip(round(y), 0, height - 1)),
    )
    for x, y in points
  ]


def _union(parts: Sequence[Polygon], height: int, width: int) -> np.ndarray:
  """Boolean mask of the parts, drawn by the reader's own rasterizer."""
  mask = np.zeros((height, width), bool)
  for part in parts:
    mask |= polygon.polygon_mask(
      (height, width), np.array([[int(x), int(y)] for x, y in part])
    )
  return mask


def _paint_person(
  rng: np.random.Generator,
  image: np.ndarray,
  mask: np.ndarray,
  parts: Sequence[Polygon],
) -> None:
  """Colours the figure's pixels: skin head, shirt on torso/arms, trousers."""
  height, width = mask.shape
  skin = rng.choice(
    [[224, 172, 140], [198, 134, 66], [141, 85, 36], [255, 219, 172]]
  )
  shirt, trousers = rng.integers(0, 256, size=(2, 3))
  head = _union(parts[:1], height, width)
  legs = _union(parts[4::2], height, width) & mask & ~head
  upper = mask & ~head & ~legs
  for region, color in ((head, skin), (upper, shirt), (legs, trousers)):
    noise = rng.normal(0, 10, size=(int(region.sum()), 3))
    image[region] = np.clip(np.asarray(color) + noise, 0, 255).astype(np.uint8)


def _blob(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
  """An ellipse mask, used for distractors and neutral regions."""
  yy, xx = np.mgrid[0:height, 0:width]
  cy, cx = rng.uniform(0, height), rng.uniform(0, width)
  ry, rx = rng.uniform(5, height / 4), rng.uniform(5, width / 4)
  return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def _polygon_object(points: Polygon) -> Dict:
  return {
    'classTitle': CLASS_POLYGON,
    'geometryType': 'polygon',
    'tags': [],
    'points': {
      'exterior': [[int(x), int(y)] for x, y in points],
      'interior': [],
    },
  }


def _bitmap_object(class_title: str, mask: np.ndarray) -> Dict:
  """A Supervisely bitmap: base64(zlib(PNG)) of the mask's bounding box."""
  rows, cols = np.nonzero(mask)
  top, left = int(rows.min()), int(cols.min())
  crop = mask[top : rows.max() + 1, left : cols.max() + 1]
  png = io.BytesIO()
  Image.fromarray(crop.astype(np.uint8) * 255, mode='L').save(png, 'PNG')
  data = base64.b64encode(zlib.compress(png.getvalue())).decode('ascii')
  return {
    'classTitle': class_title,
    'geometryType': 'bitmap',
    'tags': [],
    'bitmap': {'data': data, 'origin': [left, top]},
  }


def _save_image(image: np.ndarray, path: str, extension: str) -> None:
  if extension == 'jpg':
    Image.fromarray(image).save(path, 'JPEG', quality=92)
  else:
    Image.fromarray(image).save(path, 'PNG')


def _read_json(path: str):
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def _write_json(path: str, value) -> None:
  with open(path, 'w') as f:
    json.dump(value, f)
