import type {
  NotificationConfiguration,
  NotificationRuleInput,
  NotificationRuleKind,
} from '../../../domain/storage/notifications.ts';
import type { BucketRecord } from '../../../domain/storage/types.ts';
import { LIMITS } from '../../../platform/limits.ts';
import { s3Error } from '../errors.ts';
import { readBodyText, sendEmpty, sendXml, type S3Exchange } from '../exchange.ts';
import type { S3Services } from '../s3-endpoint.ts';
import {
  parseXmlBody,
  renderXmlDocument,
  xmlList,
  xmlObject,
  xmlText,
  type XmlNode,
  type XmlObject,
  type XmlValue,
} from '../xml.ts';

/**
 * Event notifications (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html):
 * S3's NotificationConfiguration XML in and out; the rules live in domain/storage/notifications.ts.
 */
export async function getBucketNotificationConfiguration(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  const configuration = await services.notifications.getConfiguration(bucket.name);
  sendXml(x.res, 200, renderXmlDocument('NotificationConfiguration', renderRules(configuration)));
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketNotificationConfiguration.html */
export async function putBucketNotificationConfiguration(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  const root = parseXmlBody(await readBodyText(x.body, LIMITS.xmlBodyMaxBytes), 'NotificationConfiguration');
  await services.notifications.putConfiguration(bucket.name, parseRules(root));
  sendEmpty(x.res, 200);
}

/** Configuration elements by XML name: the kind and the element holding the destination ARN. */
const RULE_ELEMENTS: readonly { element: string; kind: NotificationRuleKind; arnElement: string }[] = [
  { element: 'TopicConfiguration', kind: 'topic', arnElement: 'Topic' },
  { element: 'QueueConfiguration', kind: 'queue', arnElement: 'Queue' },
  { element: 'CloudFunctionConfiguration', kind: 'function', arnElement: 'CloudFunction' },
];

function parseRules(root: XmlObject): NotificationRuleInput[] {
  const rules: NotificationRuleInput[] = [];
  for (const name of Object.keys(root)) {
    if (name === '#text' && xmlText(root[name])?.trim() === '') continue;
    if (name === 'EventBridgeConfiguration') {
      throw s3Error('NotImplemented', 'Amazon EventBridge destinations are not supported by Sovra.');
    }
    if (!RULE_ELEMENTS.some((known) => known.element === name)) throw malformed();
  }
  for (const { element, kind, arnElement } of RULE_ELEMENTS) {
    for (const value of xmlList(root[element])) rules.push(parseRule(value, kind, arnElement));
  }
  return rules;
}

function parseRule(value: XmlValue, kind: NotificationRuleKind, arnElement: string): NotificationRuleInput {
  const rule = xmlObject(value);
  if (rule === undefined) throw malformed();
  const arn = xmlText(rule[arnElement]);
  if (arn === undefined || arn === '') throw malformed();
  const id = rule.Id === undefined ? null : requiredText(rule.Id);
  const events = xmlList(rule.Event).map(requiredText);
  const filterRules: { name: string; value: string }[] = [];
  if (rule.Filter !== undefined) {
    const filter = xmlObject(rule.Filter);
    const s3Key = filter === undefined ? undefined : xmlObject(filter.S3Key);
    if (s3Key === undefined) throw malformed();
    for (const entry of xmlList(s3Key.FilterRule)) {
      const filterRule = xmlObject(entry);
      if (filterRule === undefined) throw malformed();
      filterRules.push({
        name: requiredText(filterRule.Name),
        value: filterRule.Value === undefined ? '' : requiredText(filterRule.Value),
      });
    }
  }
  return { id, kind, arn, events, filterRules };
}

function renderRules(configuration: NotificationConfiguration): XmlNode[] {
  // S3 lists topic configurations before queue configurations.
  const ordered = [
    ...configuration.rules.filter((rule) => rule.kind === 'topic'),
    ...configuration.rules.filter((rule) => rule.kind === 'queue'),
  ];
  return ordered.map((rule): XmlNode => {
    const filterRules: XmlNode[] = [];
    if (rule.prefix !== null)
      filterRules.push([
        'FilterRule',
        [
          ['Name', 'Prefix'],
          ['Value', rule.prefix],
        ],
      ]);
    if (rule.suffix !== null)
      filterRules.push([
        'FilterRule',
        [
          ['Name', 'Suffix'],
          ['Value', rule.suffix],
        ],
      ]);
    const content: XmlNode[] = [
      ['Id', rule.id],
      [rule.kind === 'topic' ? 'Topic' : 'Queue', rule.arn],
      ...rule.events.map((event): XmlNode => ['Event', event]),
    ];
    if (filterRules.length > 0) content.push(['Filter', [['S3Key', filterRules]]]);
    return [rule.kind === 'topic' ? 'TopicConfiguration' : 'QueueConfiguration', content];
  });
}

function requiredText(value: XmlValue | undefined): string {
  const text = xmlText(value);
  if (text === undefined) throw malformed();
  return text;
}

function malformed() {
  return s3Error(
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
  );
}
