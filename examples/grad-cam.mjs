// Grad-CAM (Selvaraju et al. 2017): which parts of an image drove a class score. A forward
// hook keeps the activation of a stage, a backward hook its gradient; their
// gradient-weighted sum over channels, after a ReLU, is the heat map, drawn over the image.
//
//   node examples/grad-cam.mjs IMAGE OUT.png [--model resnet18] [--weights FILE]
//                              [--layer layer4] [--class N] [--size 224]
//
// Without --weights the model has random weights: the map is then only a demonstration.
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createModel, data, io, models, torch } from 'resnets';

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: 'resnet18' },
    weights: { type: 'string' },
    layer: { type: 'string', default: 'layer4' },
    class: { type: 'string' },
    size: { type: 'string', default: '224' },
  },
});
const [imageFile, outFile] = positionals;
if (!imageFile || !outFile) {
  console.error('usage: node examples/grad-cam.mjs IMAGE OUT.png [--model resnet18] [--weights FILE] [--layer layer4] [--class N] [--size 224]');
  process.exit(2);
}
const size = Number(options.size);

// The model, with its classifier sized from the checkpoint when there is one.
let model;
if (options.weights) {
  const dict = io.load(options.weights);
  model = createModel(options.model, { numClasses: dict['fc.weight']?.shape[0] ?? 1000, init: false });
  model.loadStateDict(dict);
  torch.dispose(dict);
} else {
  model = createModel(options.model);
}
model.eval();

// The image, resized to size x size (no crop, so the map covers all of it) and normalised.
const original = sharp(imageFile).removeAlpha().toColourspace('srgb');
const { width, height } = await original.metadata();
const pixels = await original.clone().resize(size, size, { fit: 'fill' }).raw().toBuffer();
const { mean, std } = models.getModelInfo(options.model);
const input = data.imagesToTensor([{ data: new Uint8Array(pixels), width: size, height: size, channels: 3 }], { normalize: data.normalize(mean, std) });

// Hooks on the stage: its output on the way forward, the gradient of that output on the way back.
const stage = model.getSubmodule(options.layer);
let activation;
let gradient;
const removeForward = stage.registerForwardHook((_module, _input, output) => {
  activation = output.detach().keep();
});
const removeBackward = stage.registerFullBackwardHook((_module, _gradInput, gradOutput) => {
  gradient = gradOutput.keep();
});

const { heat, target, score } = torch.tidy(() => {
  const logits = model.call(input);
  const target = options.class === undefined ? logits.argmax(1).item() : Number(options.class);
  const classScore = logits.select(1, target).sum();
  classScore.backward();
  // Channel weights: the gradient averaged over the map; then the weighted sum, ReLU, scaled to [0, 1].
  const weights = gradient.mean([2, 3], true);
  const cam = activation.mul(weights).sum(1).relu().squeeze(0);
  const peak = cam.max().item();
  const heat = (peak > 0 ? cam.div(peak) : cam).mul(255).clamp(0, 255).to('uint8');
  return { heat: heat.keep(), target, score: classScore.item() };
});
removeForward();
removeBackward();
const [mapHeight, mapWidth] = heat.shape;
const heatBytes = heat.toBytes();
torch.dispose([heat, activation, gradient, input]);
model.dispose();

// The map, upsampled to the image's own size and coloured from blue (0) through green to red (1).
const grey = await sharp(Buffer.from(heatBytes), { raw: { width: mapWidth, height: mapHeight, channels: 1 } })
  .resize(width, height, { kernel: 'cubic', fit: 'fill' })
  .raw()
  .toBuffer();
const coloured = Buffer.alloc(width * height * 4);
for (let i = 0; i < width * height; i++) {
  const t = grey[i] / 255;
  coloured[i * 4] = Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - 3))));
  coloured[i * 4 + 1] = Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - 2))));
  coloured[i * 4 + 2] = Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - 1))));
  coloured[i * 4 + 3] = 128; // half-transparent over the image
}
const overlay = await sharp(coloured, { raw: { width, height, channels: 4 } }).png().toBuffer();
await original.clone().composite([{ input: overlay }]).png().toFile(outFile);
console.log(`class ${target} (score ${score.toFixed(3)}): Grad-CAM of ${options.layer} (${mapWidth}x${mapHeight}) written to ${outFile} (${width}x${height})`);
