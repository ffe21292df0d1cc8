// Class names for predictions: a text file with one name per line, or a JSON array.
import { existsSync, readFileSync } from 'node:fs';

export function readLabels(file: string): string[] {
  if (!existsSync(file)) throw new Error(`labels file '${file}' does not exist`);
  const text = readFileSync(file, 'utf8');
  if (text.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Error(`labels file '${file}' is not valid JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(parsed) || parsed.some((item) => typeof item !== 'string')) {
      throw new Error(`labels file '${file}' must hold a JSON array of strings`);
    }
    return parsed as string[];
  }
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  return lines.map((line) => line.trim());
}
