// `resnets list [pattern] [--family NAME]`: the registered models grouped by family, with
// parameters and input size.
import type { Command } from 'commander';
import { getModelInfo, listModels } from '../../models/index.js';
import { describeTrainingDefaults, type FamilyTrainingDefaults } from '../../models/family.js';
import { modelParameterCount } from '../model-loading.js';
import { formatTable } from '../table.js';

interface ListRow {
  name: string;
  family: string;
  architecture: string;
  params: number;
  inputSize: number[];
  description: string;
  /** The family's own SGD training settings, where it has them. */
  trainingDefaults?: FamilyTrainingDefaults;
}

/** The rows of `names` whose group or architecture is `family` (every row without one). */
function rowsFor(names: string[], family: string | undefined): ListRow[] {
  const infos = names.map((name) => getModelInfo(name));
  if (family !== undefined) {
    const known = [...new Set(listModels().flatMap((name) => [getModelInfo(name).family, getModelInfo(name).architecture]))].sort();
    if (!known.includes(family)) throw new Error(`unknown family '${family}'; known: ${known.join(', ')}`);
  }
  return infos
    .filter((info) => family === undefined || info.family === family || info.architecture === family)
    .map((info) => ({
      name: info.name,
      family: info.family,
      architecture: info.architecture,
      params: modelParameterCount(info.name),
      inputSize: [...info.defaultInputSize],
      description: info.description,
      ...(info.trainingDefaults ? { trainingDefaults: info.trainingDefaults } : {}),
    }));
}

export function register(program: Command): void {
  program
    .command('list')
    .description('List the models grouped by family: name, family, parameters and input size')
    .argument('[pattern]', "filter by name: a glob such as 'resnet*' or a substring")
    .option('--family <name>', "only this family: a group such as 'seresnet', 'resnet_bcd', 'preact_resnet', or a definition such as 'resnetv2'")
    .option('--json', 'print a JSON array')
    .action((pattern: string | undefined, options: { json?: boolean; family?: string }) => {
      const rows = rowsFor(listModels(pattern), options.family);
      if (rows.length === 0) {
        const filters = [pattern ? `'${pattern}'` : '', options.family ? `family '${options.family}'` : ''].filter(Boolean).join(' and ');
        throw new Error(filters ? `no model matches ${filters}` : 'no models are registered');
      }
      if (options.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      const groups = [...new Set(rows.map((row) => row.family))];
      const sections = groups.map((group) => {
        const members = rows.filter((row) => row.family === group);
        const table = formatTable(
          ['Name', 'Family', 'Params', 'Input', 'Description'],
          members.map((row) => [row.name, row.family, row.params.toLocaleString('en-US'), row.inputSize.join('x'), row.description]),
          { alignRight: [2] },
        );
        const recipe = members.find((row) => row.trainingDefaults)?.trainingDefaults;
        const note = recipe ? `\ntraining defaults (SGD, when left out): ${describeTrainingDefaults(recipe)} (${recipe.source})` : '';
        return `${group} (${members.length} model${members.length === 1 ? '' : 's'})\n${table}${note}`;
      });
      console.log(sections.join('\n\n'));
    });
}
