// Losses for training embedding networks: margin logits and the heads that hold class centres.
export * from './margin.js';
export * from './embedding-heads.js';
