// `resnets list [pattern]`: the registered models with family, parameters and input size.
import type { Command } from 'commander';
import { getModelInfo, listModels } from '../../models/index.js';
import { modelParameterCount } from '../model-loading.js';
import { formatTable } from '../table.js';

interface ListRow {
  name: string;
  family: string;
  params: number;
  inputSize: number[];
}

export function register(program: Command): void {
  program
    .command('list')
    .description('List the models: name, family, parameters and input size')
    .argument('[pattern]', "filter by name: a glob such as 'resnet*' or a substring")
    .option('--json', 'print a JSON array')
    .action((pattern: string | undefined, options: { json?: boolean }) => {
      const names = listModels(pattern);
      if (names.length === 0) throw new Error(pattern ? `no model matches '${pattern}'` : 'no models are registered');
      const rows: ListRow[] = names.map((name) => {
        const info = getModelInfo(name);
        return { name, family: info.family, params: modelParameterCount(name), inputSize: [...info.defaultInputSize] };
      });
      if (options.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      console.log(
        formatTable(
          ['Name', 'Family', 'Params', 'Input'],
          rows.map((row) => [row.name, row.family, row.params.toLocaleString('en-US'), row.inputSize.join('x')]),
          { alignRight: [2] },
        ),
      );
    });
}
