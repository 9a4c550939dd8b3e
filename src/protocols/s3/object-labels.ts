import type { IncomingHttpHeaders } from 'node:http';
import {
  effectiveObjectLabel,
  requestedObjectLabel,
  type RequestedLabel,
} from '../../domain/classification/label.ts';
import {
  CLASSIFICATION_HEADER,
  COMPARTMENTS_HEADER,
  dataLabelText,
  labelTagsOfHeaders,
  objectLabelToStore,
  parseLabelHeaders,
  renderCompactLabel,
  renderLabelHeaders,
  storedLabel,
  storedObjectLabel,
} from '../../domain/classification/label-wire.ts';
import type { ClassificationScheme } from '../../domain/classification/scheme.ts';
import { denialOf, type Authorizer, type RequestFacts } from '../../domain/iam/authorizer.ts';
import {
  hasReservedTag,
  NO_RESERVED_TAGS,
  validatedTagSet,
  type ReservedTags,
  type Tag,
} from '../../domain/storage/tagging.ts';
import type { BucketRecord } from '../../domain/storage/types.ts';
import type { Caller } from '../../domain/iam/caller.ts';
import type { S3LabelHeaders } from './label-headers.ts';
import { header, readTaggingHeaderTags } from './object-headers.ts';
import type { S3Outcome } from './s3-endpoint.ts';

/** Distinct (bucket label, object label) pairs whose response headers and audit text are remembered. */
export const OBJECT_LABEL_MEMO_ENTRIES = 1_024;

/** Who asks, and the outcome whose label the audit record shows (an S3Exchange fits). */
export interface LabelledRequest {
  caller: Caller;
  outcome: S3Outcome;
}

/** The label a write gives its object. */
export interface ObjectLabelWrite {
  /** What the version records (ObjectVersion.classification): null when it is the bucket's label. */
  stored: string | null;
  /** The object's label in the compact form, for the audit record. */
  effective: string;
  /** The object's label as response headers: the write's answer confirms the label it gave. */
  responseHeaders: Readonly<Record<string, string>>;
}

/**
 * Object labels on the S3 path (docs/reference/classification.md "Object labels"). An object
 * carries its bucket's label unless a write (PutObject, CopyObject, CreateMultipartUpload, POST
 * Object) asks for a higher one with `x-sovra-classification` / `x-sovra-compartments`; the
 * version records it, and its data's label is then the bucket's joined with it.
 *
 * Authorization first decides a request against the bucket's label, before any object record
 * is read; a version with a label of its own is decided again here once its record has been read
 * and before anything about it is answered (`admit`), so an object that has none costs nothing
 * more. Every refusal is the authorizer's AccessDenied, the same answer as any label denial.
 */
export class S3ObjectLabels {
  readonly #scheme: ClassificationScheme;
  readonly #authorizer: Authorizer;
  readonly #bucketLabels: S3LabelHeaders;
  readonly #headers = new Map<string, Readonly<Record<string, string>>>();
  readonly #texts = new Map<string, string>();

  constructor(scheme: ClassificationScheme, authorizer: Authorizer, bucketLabels: S3LabelHeaders) {
    this.#scheme = scheme;
    this.#authorizer = authorizer;
    this.#bucketLabels = bucketLabels;
  }

  /**
   * The label headers of a write, parsed (UnknownLevel, UnknownCompartment, MalformedLabel) but
   * not yet compared with anything; null when it sends neither. Read before authorization: a
   * malformed header says nothing about the bucket.
   */
  requestedLabel(headers: IncomingHttpHeaders): RequestedLabel | null {
    return parseLabelHeaders(
      this.#scheme,
      header(headers, CLASSIFICATION_HEADER),
      header(headers, COMPARTMENTS_HEADER),
    );
  }

  /**
   * Labels a write already authorized against its bucket: the writer labels data, so its
   * clearance must dominate the label the object would get (no-label-above-clearance, as for
   * CreateBucket), and only then is a label below the bucket's refused (LabelBelowBucket,
   * 400 InvalidArgument). In that order, a writer not cleared for the bucket's label (writing up
   * is allowed) cannot learn that label by trying labels and reading the errors.
   */
  async labelWrite(
    request: LabelledRequest,
    action: string,
    bucket: BucketRecord,
    key: string,
    requested: RequestedLabel,
    facts?: RequestFacts,
  ): Promise<ObjectLabelWrite> {
    const bucketLabel = storedLabel(this.#scheme, bucket.classification);
    const asked = renderCompactLabel(requestedObjectLabel(bucketLabel, requested));
    request.outcome.classification = this.textOf(bucket.classification, asked);
    await this.#authorizer.authorize(
      request.caller,
      action,
      { bucket, key, objectLabel: asked },
      { ...facts, labelsData: true },
    );
    const effective = effectiveObjectLabel(bucketLabel, requested);
    return {
      stored: objectLabelToStore(bucketLabel, effective),
      effective: renderCompactLabel(effective),
      responseHeaders: renderLabelHeaders(effective),
    };
  }

  /**
   * Decides `action` again for a version that has a label of its own (a version without one was
   * decided with its bucket's label), and records the data's label for the audit record.
   */
  async admit(
    request: LabelledRequest,
    action: string,
    bucket: BucketRecord,
    version: { key: string; classification: string | null },
    facts?: RequestFacts,
  ): Promise<void> {
    if (version.classification === null) return;
    request.outcome.classification = this.textOf(bucket.classification, version.classification);
    await this.#authorizer.authorize(
      request.caller,
      action,
      { bucket, key: version.key, objectLabel: version.classification },
      facts,
    );
  }

  /**
   * For listings: whether the caller may see entries with a label of their own, decided as the
   * listing itself (same action and request facts) with the entry's label; no read up through
   * listings. Each distinct label is decided once per listing.
   */
  readableFilter(
    request: LabelledRequest,
    action: string,
    bucket: BucketRecord,
    facts?: RequestFacts,
  ): (entry: { classification: string | null }) => Promise<boolean> {
    const decided = new Map<string, boolean>();
    return async (entry) => {
      const label = entry.classification;
      if (label === null) return true;
      let readable = decided.get(label);
      if (readable === undefined) {
        try {
          await this.#authorizer.authorize(
            request.caller,
            action,
            { bucket, key: null, objectLabel: label },
            facts,
          );
          readable = true;
        } catch (error) {
          if (denialOf(error) === null) throw error;
          readable = false;
        }
        decided.set(label, readable);
      }
      return readable;
    };
  }

  /** The response headers of a version's label (x-sovra-classification, x-sovra-compartments). */
  responseHeaders(
    bucket: BucketRecord,
    version: { classification: string | null },
  ): Readonly<Record<string, string>> {
    if (version.classification === null) return this.#bucketLabels.responseHeaders(bucket.classification);
    const memoKey = `${bucket.classification ?? ''}\u0000${version.classification}`;
    let headers = this.#headers.get(memoKey);
    if (headers === undefined) {
      headers = Object.freeze(
        renderLabelHeaders(storedObjectLabel(this.#scheme, bucket.classification, version.classification)),
      );
      if (this.#headers.size >= OBJECT_LABEL_MEMO_ENTRIES) this.#headers.clear();
      this.#headers.set(memoKey, headers);
    }
    return headers;
  }

  /**
   * A bucket's or version's label as the reserved tags GetBucketTagging and GetObjectTagging
   * answer after the tags of its own: the same texts as its response headers.
   */
  labelTags(bucket: BucketRecord, version: { classification: string | null }): Tag[] {
    return labelTagsOfHeaders(this.responseHeaders(bucket, version));
  }

  /**
   * Whether the caller may read a target's label: decided as the request that shows it would be
   * (HeadBucket, s3:ListBucket, for a bucket; GetObjectTagging for an object), so a
   * configuration permission alone never reveals a label its holder is not cleared for.
   */
  async mayReadLabel(
    request: LabelledRequest,
    bucket: BucketRecord,
    target: { key: string | null; classification: string | null },
  ): Promise<boolean> {
    try {
      await this.#authorizer.authorize(
        request.caller,
        target.key === null ? 's3:ListBucket' : 's3:GetObjectTagging',
        { bucket, key: target.key, objectLabel: target.classification },
      );
      return true;
    } catch (error) {
      if (denialOf(error) === null) throw error;
      return false;
    }
  }

  /**
   * The reserved tags a write may send back and have ignored: the target's label tags when the
   * caller may read them, else none, so that every other reserved tag gets the same InvalidTag
   * and a writer (writing up needs no clearance) cannot guess a label by trying values.
   */
  async echoableLabelTags(
    request: LabelledRequest,
    bucket: BucketRecord,
    target: { key: string | null; classification: string | null },
  ): Promise<ReservedTags> {
    if (!(await this.mayReadLabel(request, bucket, target))) return NO_RESERVED_TAGS;
    return Object.fromEntries(this.labelTags(bucket, target).map((tag) => [tag.key, tag.value]));
  }

  /**
   * The `x-amz-tagging` header of PutObject, CreateMultipartUpload or CopyObject (REPLACE) as the
   * tags to store, or null without one; a reserved tag may only send back the label the write
   * gives the object (`label`, else its bucket's).
   */
  async requestTagSet(
    request: LabelledRequest,
    headers: IncomingHttpHeaders,
    bucket: BucketRecord,
    key: string,
    label: ObjectLabelWrite | null,
  ): Promise<Record<string, string> | null> {
    const tags = readTaggingHeaderTags(headers);
    if (tags === null) return null;
    const reserved = hasReservedTag(tags)
      ? await this.echoableLabelTags(request, bucket, { key, classification: label?.stored ?? null })
      : NO_RESERVED_TAGS;
    return validatedTagSet(tags, 'object', reserved);
  }

  /** The data's label as audit records show it: the compact form of the bucket's joined with the object's. */
  textOf(bucketClassification: string | null, objectClassification: string | null): string {
    if (objectClassification === null) return this.#bucketLabels.labelOf(bucketClassification);
    const memoKey = `${bucketClassification ?? ''}\u0000${objectClassification}`;
    let text = this.#texts.get(memoKey);
    if (text === undefined) {
      text = dataLabelText(this.#scheme, bucketClassification, objectClassification);
      if (this.#texts.size >= OBJECT_LABEL_MEMO_ENTRIES) this.#texts.clear();
      this.#texts.set(memoKey, text);
    }
    return text;
  }
}
