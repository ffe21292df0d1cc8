// The resnets page: classify an image (or compare two faces) with a model exported to
// ONNX, run by onnxruntime-web's WebAssembly backend; and browse every registered
// model's block diagram and layer summary. Everything is fetched from beside the page.
import type * as Ort from 'onnxruntime-web/wasm';

// Its own chunk: onnxruntime-web starts its threads' workers from the script that holds
// it, which must not be this page script (workers have no document).
const ort: typeof Ort = await import('onnxruntime-web/wasm');

interface ExportedModel {
  name: string;
  file: string;
  kind: 'classifier' | 'embedding';
  /** [channels, height, width] */
  input: number[];
  /** The short side is resized to this, then the centre `crop` x `crop` is kept (as `resnets predict`). */
  resize: number;
  crop: number;
  mean: number[];
  std: number[];
  classes: string[];
}

interface DescribedModel {
  name: string;
  family: string;
  paper: string;
  input: number[];
  params: number;
  macs: number;
}

interface LayerSummary {
  path: string;
  type: string;
  outputShape: number[] | number[][];
  params: number;
}

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = byId<HTMLParagraphElement>('status');

function setStatus(text: string, state = 'busy'): void {
  status.textContent = text;
  status.dataset.state = state;
}

// The WebAssembly binary is bundled by Vite beside the page's script.
// Threads need a cross-origin isolated page (COOP/COEP headers); plain static hosting gets one thread.
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;

async function fetchJson<T>(path: string, fallback: T): Promise<T> {
  const response = await fetch(path);
  if (!response.ok) return fallback;
  return (await response.json()) as T;
}

// ---- preprocessing: resize the short side, centre-crop, scale to [0, 1], normalise ----

async function decode(file: File): Promise<ImageBitmap> {
  return createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
}

/** [1, 3, crop, crop] float32 in NCHW, as resnets predict makes it; the crop is drawn on `preview`. */
function preprocess(image: ImageBitmap, model: ExportedModel, preview: HTMLCanvasElement): Float32Array {
  const { resize, crop, mean, std } = model;
  const [width, height] =
    image.height <= image.width ? [Math.floor((resize * image.width) / image.height), resize] : [resize, Math.floor((resize * image.height) / image.width)];
  const resized = new OffscreenCanvas(width, height);
  const context = resized.getContext('2d', { willReadFrequently: true })!;
  context.imageSmoothingQuality = 'high';
  context.drawImage(image, 0, 0, width, height);
  const left = Math.round((width - crop) / 2);
  const top = Math.round((height - crop) / 2);
  const pixels = context.getImageData(left, top, crop, crop).data;
  preview.width = crop;
  preview.height = crop;
  preview.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(pixels), crop, crop), 0, 0);
  const plane = crop * crop;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) data[c * plane + i] = (pixels[i * 4 + c] / 255 - mean[c]) / std[c];
  }
  return data;
}

// ---- inference ----

const sessions = new Map<string, Promise<Ort.InferenceSession>>();

function sessionFor(model: ExportedModel): Promise<Ort.InferenceSession> {
  let session = sessions.get(model.name);
  if (!session) {
    session = ort.InferenceSession.create(new URL(`models/${model.file}`, document.baseURI).href, { executionProviders: ['wasm'] });
    sessions.set(model.name, session);
  }
  return session;
}

async function run(model: ExportedModel, data: Float32Array): Promise<Float32Array> {
  const session = await sessionFor(model);
  const outputs = await session.run({ input: new ort.Tensor('float32', data, [1, 3, model.crop, model.crop]) });
  return outputs.output.data as Float32Array;
}

function softmax(logits: Float32Array): number[] {
  const max = Math.max(...logits);
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}

function showTop5(model: ExportedModel, logits: Float32Array): void {
  const probabilities = softmax(logits);
  const order = probabilities.map((p, index) => ({ p, index })).sort((a, b) => b.p - a.p).slice(0, 5);
  const list = byId<HTMLOListElement>('top5');
  list.replaceChildren(
    ...order.map(({ p, index }) => {
      const item = document.createElement('li');
      item.dataset.index = String(index);
      const label = Object.assign(document.createElement('span'), { className: 'label', textContent: model.classes[index] ?? String(index), title: model.classes[index] ?? '' });
      const bar = Object.assign(document.createElement('span'), { className: 'bar' });
      bar.style.width = `${Math.max(1, p * 100)}%`;
      const value = Object.assign(document.createElement('span'), { className: 'value', textContent: `${(p * 100).toFixed(1)}%` });
      item.append(label, bar, value);
      return item;
    }),
  );
}

function cosine(a: Float32Array, b: Float32Array): number {
  let [dot, na, nb] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

// ---- the classify view ----

async function setUpPredictView(models: ExportedModel[]): Promise<void> {
  const select = byId<HTMLSelectElement>('predict-model');
  select.replaceChildren(...models.map((m) => new Option(`${m.name} (${m.kind})`, m.name)));
  byId('no-models').hidden = models.length > 0;
  byId('runtime-note').textContent = `onnxruntime-web, WebAssembly, ${ort.env.wasm.numThreads} thread(s)`;
  const current = () => models.find((m) => m.name === select.value)!;
  const showPanels = () => {
    const model = current();
    byId('classifier').hidden = !model || model.kind !== 'classifier';
    byId('embedding').hidden = !model || model.kind !== 'embedding';
  };
  select.addEventListener('change', showPanels);
  showPanels();

  const classify = async (file: File) => {
    const model = current();
    setStatus(`running ${model.name}...`);
    try {
      const logits = await run(model, preprocess(await decode(file), model, byId('preview')));
      showTop5(model, logits);
      setStatus(`${model.name}: top 5 of ${model.classes.length} classes`, 'done');
    } catch (error) {
      setStatus(`failed: ${(error as Error).message}`, 'error');
    }
  };
  const faces: (Float32Array | undefined)[] = [undefined, undefined];
  const embed = async (file: File, slot: 0 | 1) => {
    const model = current();
    setStatus(`running ${model.name}...`);
    try {
      faces[slot] = await run(model, preprocess(await decode(file), model, byId(slot === 0 ? 'preview-a' : 'preview-b')));
      if (faces[0] && faces[1]) {
        byId('similarity').textContent = `cosine similarity ${cosine(faces[0], faces[1]).toFixed(4)}`;
        setStatus(`${model.name}: ${faces[0].length}-d embeddings`, 'done');
      } else {
        setStatus('now the other face', 'done');
      }
    } catch (error) {
      setStatus(`failed: ${(error as Error).message}`, 'error');
    }
  };
  wireDrop('image', (file) => classify(file));
  wireDrop('face-a', (file) => embed(file, 0));
  wireDrop('face-b', (file) => embed(file, 1));
}

/** A file input inside a drop zone: picking or dropping a file calls `use`. */
function wireDrop(inputId: string, use: (file: File) => void): void {
  const input = byId<HTMLInputElement>(inputId);
  const zone = input.closest('.drop') as HTMLElement;
  input.addEventListener('change', () => input.files?.[0] && use(input.files[0]));
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    const file = event.dataTransfer?.files[0];
    if (file) use(file);
  });
}

// ---- the models view ----

async function setUpModelsView(described: DescribedModel[]): Promise<void> {
  const select = byId<HTMLSelectElement>('diagram-model');
  select.replaceChildren(...described.map((m) => new Option(m.name, m.name)));
  const show = async () => {
    const model = described.find((m) => m.name === select.value);
    if (!model) return;
    byId('model-facts').textContent = `${model.family} · ${model.paper} · ${model.params.toLocaleString('en-US')} parameters · ${(model.macs / 1e9).toFixed(2)} GMACs at ${model.input.slice(1).join('×')}`;
    byId<HTMLImageElement>('diagram').src = `generated/${model.name}.svg`;
    const summary = await fetchJson<{ layers: LayerSummary[] }>(`generated/${model.name}.summary.json`, { layers: [] });
    const rows = summary.layers.map((layer) => {
      const row = document.createElement('tr');
      const shape = Array.isArray(layer.outputShape[0]) ? (layer.outputShape as number[][]).map((s) => s.join('×')).join(' ') : (layer.outputShape as number[]).join('×');
      for (const text of [layer.path, layer.type, shape, layer.params ? layer.params.toLocaleString('en-US') : '-']) row.append(Object.assign(document.createElement('td'), { textContent: text }));
      return row;
    });
    byId('summary').querySelector('tbody')!.replaceChildren(...rows);
  };
  select.addEventListener('change', show);
  await show();
}

function setUpTabs(): void {
  for (const tab of document.querySelectorAll<HTMLButtonElement>('.tab')) {
    tab.addEventListener('click', () => {
      for (const other of document.querySelectorAll<HTMLButtonElement>('.tab')) other.classList.toggle('active', other === tab);
      for (const view of document.querySelectorAll<HTMLElement>('.view')) view.hidden = view.id !== `view-${tab.dataset.view}`;
    });
  }
}

setUpTabs();
const [exported, described] = await Promise.all([fetchJson<ExportedModel[]>('models/index.json', []), fetchJson<DescribedModel[]>('generated/models.json', [])]);
await Promise.all([setUpPredictView(exported), setUpModelsView(described)]);
setStatus(exported.length > 0 ? 'pick or drop an image' : 'no exported model', 'ready');
