import type { IncomingHttpHeaders } from 'node:http';
import { lowestLabel, type SecurityLabel } from '../../domain/classification/label.ts';
import {
  CLASSIFICATION_HEADER,
  COMPARTMENTS_HEADER,
  parseCompactLabel,
  parseLabelHeaders,
  renderCompactLabel,
  renderLabelHeaders,
} from '../../domain/classification/label-wire.ts';
import type { ClassificationScheme } from '../../domain/classification/scheme.ts';
import { isSovraError } from '../../platform/errors.ts';
import { header } from './object-headers.ts';

/** Distinct bucket label texts whose response headers are remembered. */
export const LABEL_HEADER_MEMO_ENTRIES = 1_024;

/**
 * Bucket labels on the S3 wire (docs/reference/classification.md "S3"): CreateBucket reads the
 * `x-sovra-classification` and `x-sovra-compartments` request headers; HeadBucket answers with
 * the bucket's label, and so do GetObject and HeadObject for an object without a label of its
 * own (object labels: object-labels.ts).
 */
export class S3LabelHeaders {
  readonly #scheme: ClassificationScheme;
  readonly #lowest: Readonly<Record<string, string>>;
  readonly #byText = new Map<string, Readonly<Record<string, string>>>();

  constructor(scheme: ClassificationScheme) {
    this.#scheme = scheme;
    this.#lowest = Object.freeze(renderLabelHeaders(lowestLabel(scheme)));
  }

  /**
   * The label a CreateBucket request asks for, in the compact form the bucket record keeps, or
   * null when it sends neither header (the lowest level). A missing classification header is the
   * lowest level; a missing compartments header, no compartments. A level or compartment the
   * scheme does not know is UnknownLevel or UnknownCompartment, a malformed one MalformedLabel.
   */
  requestedBucketLabel(headers: IncomingHttpHeaders): string | null {
    const requested = parseLabelHeaders(
      this.#scheme,
      header(headers, CLASSIFICATION_HEADER),
      header(headers, COMPARTMENTS_HEADER),
    );
    if (requested === null) return null;
    const label: SecurityLabel = {
      level: requested.level ?? this.#scheme.lowestLevel,
      compartments: requested.compartments ?? [],
    };
    return renderCompactLabel(label);
  }

  /** The label as audit records show it: the stored compact label, or the lowest level's id. */
  labelOf(classification: string | null): string {
    return classification ?? this.#scheme.lowestLevel.id;
  }

  /**
   * The response headers of a bucket's label (and of its objects without a label of their own).
   * A bucket without a recorded label is at the lowest level. A recorded label the scheme no
   * longer knows is answered as stored, so the client sees what authorization fails closed on.
   */
  responseHeaders(classification: string | null): Readonly<Record<string, string>> {
    if (classification === null) return this.#lowest;
    let headers = this.#byText.get(classification);
    if (headers === undefined) {
      headers = Object.freeze(this.#render(classification));
      if (this.#byText.size >= LABEL_HEADER_MEMO_ENTRIES) this.#byText.clear();
      this.#byText.set(classification, headers);
    }
    return headers;
  }

  #render(classification: string): Record<string, string> {
    try {
      return renderLabelHeaders(parseCompactLabel(this.#scheme, classification));
    } catch (error) {
      if (!isSovraError(error)) throw error;
      return { [CLASSIFICATION_HEADER]: classification.replace(/[^\x21-\x7e]/g, '?') };
    }
  }
}
