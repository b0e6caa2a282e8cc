/** The kinds a schedule moves, by name; the order of `KINDS` is the order within a group on start (reversed on stop). */
import { asgKind } from './asg';
import { ec2Kind } from './ec2';
import { ecsKind } from './ecs';
import type { Kind } from '../types';
import type { KindModule, Resource } from './kind';
import { rdsClusterKind, rdsInstanceKind } from './rds';

const MODULES: Record<Kind, KindModule<any>> = {
  ec2: ec2Kind,
  'rds-instance': rdsInstanceKind,
  'rds-cluster': rdsClusterKind,
  asg: asgKind,
  'ecs-service': ecsKind,
};

/** The module of a kind; waves stored before kinds existed were EC2's. */
export function kindOf(kind: Kind | undefined): KindModule<Resource> {
  return MODULES[kind ?? 'ec2'];
}
