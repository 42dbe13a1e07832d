/**
 * WebClientIdentity: where a browser chat client (Lex Web UI) gets AWS credentials. A Cognito
 * identity pool whose guests (and, with a user pool, signed-in users) get a role that may talk
 * to one Lex V2 bot alias and nothing else: what Lex Web UI calls (RecognizeText,
 * RecognizeUtterance, and PutSession/DeleteSession for "new session" and "clear",
 * lib/lex/client.js) and `execute-api:Invoke` on the streaming API's `$connect`.
 * Lex Web UI takes the pool as its CloudFormation parameter CognitoIdentityPoolId.
 */
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { policyDocument, type PolicyStatement } from "./iam";
import type { StreamingComponent } from "./streaming";

export interface WebClientIdentityArgs {
  /** The Lex V2 bot alias the clients talk to (`arn:…:lex:…:bot-alias/{botId}/{aliasId}`). */
  readonly botAliasArn: pulumi.Input<string>;
  /** Lets the clients open WebSocket connections to this component (its `grantConnect`). @default none */
  readonly streaming?: StreamingComponent;
  /** Credentials for visitors who have not signed in (Lex Web UI's default). @default true */
  readonly guests?: boolean;
  /** A Cognito user pool and app client whose users sign in for their own credentials. @default false */
  readonly userPool?: boolean;
  /** Tags of the pools and roles. @default none */
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** What Lex Web UI calls on the bot alias. */
export const LEX_WEB_UI_ACTIONS = ["lex:RecognizeText", "lex:RecognizeUtterance", "lex:PutSession", "lex:DeleteSession"] as const;

/** A Cognito identity pool name: letters, digits, `_` and spaces. */
export function identityPoolName(project: string, stack: string): string {
  return `${project} ${stack}`.replace(/[^\w ]/g, " ").slice(0, 128);
}

/**
 * Trust of an identity pool role: only identities of this pool, and only guests
 * (`unauthenticated`) or signed-in users (`authenticated`), may assume it.
 */
export function identityPoolTrust(poolId: pulumi.Input<string>, amr: "authenticated" | "unauthenticated"): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Federated: "cognito-identity.amazonaws.com" },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: { "cognito-identity.amazonaws.com:aud": poolId },
          "ForAnyValue:StringLike": { "cognito-identity.amazonaws.com:amr": amr },
        },
      },
    ],
  });
}

/** The Lex statement of a client role: the alias alone. */
export function lexClientStatement(botAliasArn: pulumi.Input<string>): PolicyStatement {
  return { Sid: "TalkToBotAlias", Effect: "Allow", Action: [...LEX_WEB_UI_ACTIONS], Resource: [botAliasArn] };
}

export class WebClientIdentity extends pulumi.ComponentResource {
  static readonly TYPE = "qnabot-streaming:index:WebClientIdentity";

  readonly identityPoolId: pulumi.Output<string>;
  /** The guests' role, when guests are on. */
  readonly guestRole?: aws.iam.Role;
  /** The signed-in users' role, with a user pool. */
  readonly userRole?: aws.iam.Role;
  readonly userPoolId?: pulumi.Output<string>;
  readonly userPoolClientId?: pulumi.Output<string>;

  constructor(name: string, args: WebClientIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    const guests = args.guests ?? true;
    const withUserPool = args.userPool ?? false;
    if (!guests && !withUserPool) {
      throw new Error("WebClientIdentity needs guests or a user pool: with neither, nobody could get credentials");
    }
    super(WebClientIdentity.TYPE, name, {}, opts);
    const parent = { parent: this };

    let providers: aws.types.input.cognito.IdentityPoolCognitoIdentityProvider[] | undefined;
    if (withUserPool) {
      const userPool = new aws.cognito.UserPool(
        `${name}-user-pool`,
        {
          usernameAttributes: ["email"],
          autoVerifiedAttributes: ["email"],
          passwordPolicy: { minimumLength: 12, requireLowercase: true, requireUppercase: true, requireNumbers: true, requireSymbols: false },
          tags: args.tags,
        },
        parent,
      );
      // A browser app: no secret, SRP sign-in and refresh.
      const client = new aws.cognito.UserPoolClient(
        `${name}-user-pool-client`,
        {
          userPoolId: userPool.id,
          generateSecret: false,
          explicitAuthFlows: ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
          preventUserExistenceErrors: "ENABLED",
        },
        parent,
      );
      providers = [{ clientId: client.id, providerName: userPool.endpoint, serverSideTokenCheck: true }];
      this.userPoolId = userPool.id;
      this.userPoolClientId = client.id;
    }

    const pool = new aws.cognito.IdentityPool(
      `${name}-pool`,
      {
        identityPoolName: identityPoolName(pulumi.getProject(), pulumi.getStack()),
        allowUnauthenticatedIdentities: guests,
        // The enhanced flow only: Cognito hands out this pool's roles, never a caller's choice.
        allowClassicFlow: false,
        cognitoIdentityProviders: providers,
        tags: args.tags,
      },
      parent,
    );

    const clientRole = (suffix: string, amr: "authenticated" | "unauthenticated"): aws.iam.Role => {
      const role = new aws.iam.Role(`${name}-${suffix}-role`, { assumeRolePolicy: identityPoolTrust(pool.id, amr), tags: args.tags }, parent);
      new aws.iam.RolePolicy(
        `${name}-${suffix}-policy`,
        { role: role.name, policy: policyDocument([lexClientStatement(args.botAliasArn)]) },
        parent,
      );
      args.streaming?.grantConnect(role);
      return role;
    };
    this.guestRole = guests ? clientRole("guest", "unauthenticated") : undefined;
    this.userRole = withUserPool ? clientRole("user", "authenticated") : undefined;
    new aws.cognito.IdentityPoolRoleAttachment(
      `${name}-roles`,
      {
        identityPoolId: pool.id,
        roles: {
          ...(this.guestRole ? { unauthenticated: this.guestRole.arn } : {}),
          ...(this.userRole ? { authenticated: this.userRole.arn } : {}),
        },
      },
      parent,
    );

    this.identityPoolId = pool.id;
    this.registerOutputs({
      identityPoolId: this.identityPoolId,
      userPoolId: this.userPoolId,
      userPoolClientId: this.userPoolClientId,
    });
  }
}
