/**
 * A custom domain in front of the WebSocket API: a regional API Gateway domain name, its
 * mapping to the stage, and (given the hosted zone) the Route 53 alias record.
 */
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

export interface StreamingDomain {
  /** Fully qualified domain name, e.g. `chat.example.com`. */
  readonly name: string;
  /** ACM certificate for `name`, in the stack's Region (a regional endpoint). */
  readonly certificateArn: pulumi.Input<string>;
  /** Route 53 hosted zone to create the alias A record in. @default no record (create it yourself) */
  readonly hostedZoneId?: pulumi.Input<string>;
  /** Path segment the API is mapped under, e.g. `chat` → `wss://{name}/chat`. @default the domain's root */
  readonly basePath?: string;
}

/** A lower-case fully qualified domain name. */
export const DOMAIN_NAME_PATTERN = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/;
/**
 * An API mapping key (base path): API Gateway accepts letters, numbers and `$-_.+!*'()`, at
 * most 300 characters ("Map API stages to a custom domain name for WebSocket APIs",
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-mappings.html);
 * `~` is not among them. Of the punctuation only `-_.` is allowed here: the rest needs
 * escaping in a URL or a shell.
 */
export const BASE_PATH_PATTERN = /^[A-Za-z0-9._-]{1,300}$/;
/** What BASE_PATH_PATTERN allows, for error messages. */
export const BASE_PATH_RULE = "must be 1-300 characters of A-Z a-z 0-9 . _ -";

/** Throws on a domain name or base path API Gateway would refuse. */
export function checkDomain(domain: StreamingDomain): void {
  if (!DOMAIN_NAME_PATTERN.test(domain.name)) {
    throw new Error(`domain.name must be a lower-case fully qualified domain name; got ${JSON.stringify(domain.name)}`);
  }
  if (domain.basePath !== undefined && !BASE_PATH_PATTERN.test(domain.basePath)) {
    throw new Error(`domain.basePath ${BASE_PATH_RULE}; got ${JSON.stringify(domain.basePath)}`);
  }
}

/**
 * `wss://{name}[/{basePath}/]`: what clients connect to (and sign) through the custom domain.
 * Under a base path the trailing slash is part of it: API Gateway answers `wss://{name}/{basePath}`
 * with Not Found (SST's apigateway-websocket.ts appends it for the same reason).
 */
export function customDomainEndpoint(domain: Pick<StreamingDomain, "name" | "basePath">): string {
  return `wss://${domain.name}${domain.basePath ? `/${domain.basePath}/` : ""}`;
}

/** Creates `${name}-domain`, `${name}-domain-mapping` (and `${name}-domain-record`) under `parent`. */
export function streamingDomain(
  name: string,
  domain: StreamingDomain,
  target: { apiId: pulumi.Input<string>; stage: aws.apigatewayv2.Stage },
  parent: pulumi.Resource,
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>,
): aws.apigatewayv2.DomainName {
  const domainName = new aws.apigatewayv2.DomainName(
    `${name}-domain`,
    {
      domainName: domain.name,
      domainNameConfiguration: {
        certificateArn: domain.certificateArn,
        endpointType: "REGIONAL",
        securityPolicy: "TLS_1_2",
      },
      tags,
    },
    { parent },
  );
  new aws.apigatewayv2.ApiMapping(
    `${name}-domain-mapping`,
    {
      apiId: target.apiId,
      domainName: domainName.id,
      stage: target.stage.name,
      ...(domain.basePath ? { apiMappingKey: domain.basePath } : {}),
    },
    { parent },
  );
  if (domain.hostedZoneId) {
    new aws.route53.Record(
      `${name}-domain-record`,
      {
        zoneId: domain.hostedZoneId,
        name: domain.name,
        type: "A",
        aliases: [
          {
            name: domainName.domainNameConfiguration.targetDomainName,
            zoneId: domainName.domainNameConfiguration.hostedZoneId,
            evaluateTargetHealth: false,
          },
        ],
      },
      { parent },
    );
  }
  return domainName;
}
