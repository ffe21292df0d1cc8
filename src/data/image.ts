// A decoded image: pixels interleaved height x width x channels (HWC), as sharp
// returns them. uint8 pixels are 0..255; float32 pixels are on the 0..1 scale.

export interface Image {
  data: Uint8Array | Float32Array;
  channels: number;
  height: number;
  width: number;
}

/** Checks that `image.data` holds exactly height * width * channels values. */
export function checkImage(image: Image, where: string): void {
  const { channels, height, width, data } = image;
  for (const [name, value] of [['channels', channels], ['height', height], ['width', width]] as const) {
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${where}: image ${name} must be a positive integer, got ${value}`);
  }
  if (data.length !== height * width * channels) {
    throw new Error(`${where}: image data has ${data.length} values, ${height}x${width}x${channels} needs ${height * width * channels}`);
  }
}

/** A blank image with the same pixel type as `like`. */
export function emptyImage(like: Image, height: number, width: number, channels = like.channels): Image {
  const size = height * width * channels;
  const data = like.data instanceof Float32Array ? new Float32Array(size) : new Uint8Array(size);
  return { data, channels, height, width };
}

/** "CxHxW", for messages. */
export function describeSize(image: Image): string {
  return `${image.channels}x${image.height}x${image.width}`;
}
