import { CedarGuardrailCompiler, readDefaultGuardrails } from '../adapters/cedar/cedar-guardrails.ts';
import { ClassificationError } from '../domain/classification/errors.ts';
import { classificationProfile } from '../domain/classification/profiles.ts';
import { ClassificationScheme } from '../domain/classification/scheme.ts';
import { GuardrailError } from '../domain/guardrails/errors.ts';
import {
  GuardrailAdministration,
  type GuardrailAdministrationLog,
} from '../domain/guardrails/guardrail-administration.ts';
import { Guardrails } from '../domain/guardrails/guardrails.ts';
import type { GuardrailSetStore } from '../domain/guardrails/ports.ts';
import type { Clock } from '../platform/clock.ts';
import { ConfigError, type ServerConfig } from '../platform/config.ts';

/**
 * The platform operator's policy settings, built once at start: the classification scheme the
 * whole server reads labels and clearances in, and the guardrails that bound every tenant. A bad
 * setting stops the start with a ConfigError naming it (the `sovra server` command prints it and
 * exits 2).
 */

/** The configured scheme: a shipped profile, or the operator's scheme file. */
export function openClassificationScheme(config: Pick<ServerConfig, 'classification'>): ClassificationScheme {
  const setting = config.classification;
  try {
    return 'profile' in setting
      ? classificationProfile(setting.profile)
      : ClassificationScheme.parse(setting.text);
  } catch (error) {
    if (error instanceof ClassificationError) {
      const where = 'file' in setting ? `${setting.file}: ` : '';
      throw new ConfigError('InvalidConfig', `config: classificationProfile: ${where}${error.message}`, {
        setting: 'classificationProfile',
      });
    }
    throw error;
  }
}

/**
 * The guardrails: the `--guardrails` file (or the shipped default set) compiled and validated
 * against the schema (refused with the validator's message, naming the setting), then replaced by
 * the newest set stored through the admin API, if there is one that compiles. The refresh that
 * keeps this gateway on the newest stored set is started here and stopped by the caller.
 */
export async function openPlatformGuardrails(options: {
  config: Pick<ServerConfig, 'guardrails'>;
  store: GuardrailSetStore;
  clock: Clock;
  log: GuardrailAdministrationLog;
}): Promise<{ guardrails: Guardrails; administration: GuardrailAdministration }> {
  const file = options.config.guardrails;
  let guardrails: Guardrails;
  try {
    guardrails = new Guardrails(new CedarGuardrailCompiler(), file?.text ?? readDefaultGuardrails());
  } catch (error) {
    if (error instanceof GuardrailError && file !== null) {
      throw new ConfigError('InvalidConfig', `config: guardrails: ${file.file}: ${error.message}`, {
        setting: 'guardrails',
      });
    }
    throw error;
  }
  const administration = new GuardrailAdministration({
    guardrails,
    baselineSource: file === null ? 'default' : 'file',
    store: options.store,
    clock: options.clock,
    log: options.log,
  });
  await administration.refresh();
  administration.start();
  return { guardrails, administration };
}
