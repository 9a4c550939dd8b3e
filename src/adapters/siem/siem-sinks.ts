import { readFileSync } from 'node:fs';
import type { SiemSink } from '../../domain/audit/siem-sink.ts';
import type { SiemSinkConfig } from '../../platform/audit-export.ts';
import { FileSiemSink, StdoutSiemSink } from './json-lines-sinks.ts';
import { SiemWebhookSink } from './siem-webhook-sink.ts';
import { SyslogSink } from './syslog-sink.ts';

/** One sink per configured SIEM destination (connections open on first use). */
export function openSiemSinks(configs: readonly SiemSinkConfig[]): SiemSink[] {
  return configs.map((config): SiemSink => {
    switch (config.type) {
      case 'file':
        return new FileSiemSink({ name: config.name, path: config.path });
      case 'stdout':
        return new StdoutSiemSink({ name: config.name });
      case 'syslog':
        return new SyslogSink({
          name: config.name,
          host: config.host,
          port: config.port,
          tls: config.tls
            ? {
                ca: config.caFile === null ? null : readFileSync(config.caFile),
                cert: config.certFile === null ? null : readFileSync(config.certFile),
                key: config.keyFile === null ? null : readFileSync(config.keyFile),
              }
            : null,
          facility: config.facility,
          structuredDataId: config.structuredDataId,
        });
      case 'webhook':
        return new SiemWebhookSink({
          name: config.name,
          url: config.url,
          // Surrounding whitespace (a trailing newline) is not part of either value.
          secret:
            config.secretFile === null
              ? null
              : Buffer.from(readFileSync(config.secretFile, 'utf8').trim(), 'utf8'),
          authorization:
            config.authorizationFile === null ? null : readFileSync(config.authorizationFile, 'utf8').trim(),
        });
    }
  });
}
