import { XMLParser } from 'fast-xml-parser';
import { LIMITS } from '../../platform/limits.ts';
import { s3Error } from './errors.ts';

export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** Escapes text for XML 1.0 element content; characters XML 1.0 cannot carry become references. */
export function xmlEscape(text: string): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let replacement: string | null = null;
    if (c === 38) replacement = '&amp;';
    else if (c === 60) replacement = '&lt;';
    else if (c === 62) replacement = '&gt;';
    else if (c === 34) replacement = '&quot;';
    else if (c === 39) replacement = '&apos;';
    else if (c < 32 && c !== 9 && c !== 10) replacement = `&#x${c.toString(16)};`;
    if (replacement !== null) {
      out += text.slice(last, i) + replacement;
      last = i + 1;
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

/** An XML element tree, rendered without a generic serializer on the hot path. */
export type XmlNode = [name: string, content: XmlContent];
export type XmlContent = string | number | boolean | XmlNode[] | null | undefined;

export function renderXmlDocument(root: string, children: XmlNode[], xmlns = S3_XMLNS): string {
  const attrs = xmlns === '' ? '' : ` xmlns="${xmlns}"`;
  return `${XML_DECLARATION}<${root}${attrs}>${renderNodes(children)}</${root}>`;
}

function renderNodes(nodes: XmlNode[]): string {
  let out = '';
  for (const [name, content] of nodes) {
    if (content === null || content === undefined) continue;
    if (Array.isArray(content)) out += `<${name}>${renderNodes(content)}</${name}>`;
    else out += `<${name}>${xmlEscape(String(content))}</${name}>`;
  }
  return out;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  // Numeric character references (Go's encoder writes `"` as &#34;) must decode too.
  htmlEntities: true,
  ignoreDeclaration: true,
  isArray: (_name, jpath) => ARRAY_PATHS.has(String(jpath)),
});

/** Element paths that may repeat and so always parse as arrays. */
const ARRAY_PATHS = new Set([
  'CompleteMultipartUpload.Part',
  'Delete.Object',
  'Tagging.TagSet.Tag',
  'CORSConfiguration.CORSRule',
  'LifecycleConfiguration.Rule',
]);

export type XmlValue = string | XmlObject | XmlValue[];
export interface XmlObject {
  [name: string]: XmlValue | undefined;
}

/** Parses a request body; anything that is not well-formed XML with the expected root is MalformedXML. */
export function parseXmlBody(text: string, root: string): XmlObject {
  if (Buffer.byteLength(text) > LIMITS.xmlBodyMaxBytes) {
    throw s3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  }
  let parsed: unknown;
  try {
    parsed = parser.parse(text, true);
  } catch {
    throw s3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw s3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  }
  const rootValue = (parsed as Record<string, unknown>)[root];
  // An empty root, written as <Root/> or with whitespace only (pretty-printed), has no children.
  if (typeof rootValue === 'string' && rootValue.trim() === '') return {};
  if (typeof rootValue !== 'object' || rootValue === null || Array.isArray(rootValue)) {
    throw s3Error(
      'MalformedXML',
      `The XML you provided was not well-formed or did not validate against our published schema (expected <${root}>)`,
    );
  }
  return rootValue as XmlObject;
}

export function xmlText(value: XmlValue | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function xmlObject(value: XmlValue | undefined): XmlObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined;
}

export function xmlList(value: XmlValue | undefined): XmlValue[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
