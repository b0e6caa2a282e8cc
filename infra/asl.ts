/**
 * Turns a synthesized state machine (`DefinitionString`, a Fn::Join of text and CloudFormation references)
 * into plain ASL with readable placeholder ARNs, for Workflow Studio, asl-validator and review.
 */
type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const PSEUDO: Record<string, string> = {
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
};

/** `ApprovalWorkerFnA1B2C3D4` → `ApprovalWorkerFn`: drop CDK's hash suffix. */
function readable(logicalId: string): string {
  return logicalId.replace(/[0-9A-F]{8}$/, '');
}

function placeholder(template: Template, logicalId: string, attribute?: string): string {
  const type = template.Resources[logicalId]?.Type;
  const name = readable(logicalId);
  const arnOf: Record<string, string> = {
    'AWS::Lambda::Function': `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`,
    'AWS::StepFunctions::Activity': `arn:aws:states:${REGION}:${ACCOUNT}:activity:${name}`,
    'AWS::StepFunctions::StateMachine': `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`,
    'AWS::SNS::Topic': `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`,
    'AWS::DynamoDB::Table': `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`,
    'AWS::IAM::Role': `arn:aws:iam::${ACCOUNT}:role/${name}`,
  };
  const arn = type ? arnOf[type] : undefined;
  if (!arn) throw new Error(`asl: no placeholder for ${logicalId} (${type ?? 'unknown resource'})`);
  // Ref gives a name for functions, tables and roles, an ARN for the others, as CloudFormation does.
  const refIsName = ['AWS::Lambda::Function', 'AWS::DynamoDB::Table', 'AWS::IAM::Role'].includes(type!);
  if (attribute === undefined && refIsName) return name;
  if (attribute === undefined || attribute === 'Arn') return arn;
  throw new Error(`asl: no placeholder for ${logicalId}.${attribute}`);
}

function resolve(template: Template, value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => resolve(template, p)).join(sep);
  }
  if ('Ref' in v) return PSEUDO[v.Ref as string] ?? placeholder(template, v.Ref as string);
  if ('Fn::GetAtt' in v) {
    const [id, attr] = v['Fn::GetAtt'] as [string, string];
    return placeholder(template, id, attr);
  }
  throw new Error(`asl: cannot resolve ${JSON.stringify(value)}`);
}

/** `Opsflow-Ec2Schedule` → `Ec2Schedule`: state machine names are `<stackName>-<workflow>`. */
export function workflowOf(stateMachineName: string): string {
  return stateMachineName.slice(stateMachineName.lastIndexOf('-') + 1);
}

/**
 * Every state machine in the template: its name (or logical id), its workflow (the name without the stack
 * prefix) and its ASL with placeholder ARNs.
 */
export function stateMachines(template: Template): Array<{ logicalId: string; name: string; workflow: string; definition: Record<string, unknown> }> {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')
    .map(([logicalId, r]) => {
      const name = (r.Properties?.StateMachineName as string | undefined) ?? readable(logicalId);
      return { logicalId, name, workflow: workflowOf(name), definition: JSON.parse(resolve(template, r.Properties?.DefinitionString)) };
    });
}
