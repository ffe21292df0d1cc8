// Writes files in the CIFAR binary release's format for the reader and CLI tests.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Random } from '../../src/data/random.js';

/** Records of the label bytes then the 32x32 R, G and B planes; also each record's image as HWC. */
export function cifarRecords(labels: number[][], seed: number): { bytes: Uint8Array; hwc: Uint8Array[] } {
  const random = new Random(seed);
  const size = labels[0].length + 3072;
  const bytes = new Uint8Array(labels.length * size);
  const hwc: Uint8Array[] = [];
  labels.forEach((label, n) => {
    bytes.set(label, n * size);
    const planes = Uint8Array.from({ length: 3072 }, () => random.int(256));
    bytes.set(planes, n * size + label.length);
    const image = new Uint8Array(3072);
    for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) image[p * 3 + c] = planes[c * 1024 + p];
    hwc.push(image);
  });
  return { bytes, hwc };
}

export const cifar10Names = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** A CIFAR-10 release in `root` (cifar-10-batches-bin): `perBatch` records in each of the five training batches, `test` in the test batch. */
export function writeCifar10(root: string, perBatch: number, test: number): { trainImages: Uint8Array[]; trainLabels: number[]; testImages: Uint8Array[]; testLabels: number[] } {
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'batches.meta.txt'), `${cifar10Names.join('\n')}\n\n`);
  const trainImages: Uint8Array[] = [];
  const trainLabels: number[] = [];
  for (let b = 1; b <= 5; b++) {
    const labels = Array.from({ length: perBatch }, (_, i) => (b + i * 3) % 10);
    const { bytes, hwc } = cifarRecords(labels.map((l) => [l]), b);
    writeFileSync(join(root, `data_batch_${b}.bin`), bytes);
    trainImages.push(...hwc);
    trainLabels.push(...labels);
  }
  const testLabels = Array.from({ length: test }, (_, i) => (i * 7) % 10);
  const testRecords = cifarRecords(testLabels.map((l) => [l]), 99);
  writeFileSync(join(root, 'test_batch.bin'), testRecords.bytes);
  return { trainImages, trainLabels, testImages: testRecords.hwc, testLabels };
}
