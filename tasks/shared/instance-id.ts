/**
 * An EC2 instance id: `i-` and 8 or 17 lowercase hex digits. "Prior to January 2016, the IDs assigned to newly created
 * resources of certain resource types used 8 characters after the hyphen (for example, i-1a2b3c4d). From January 2016
 * to June 2018, we changed the IDs of these resource types to use 17 characters after the hyphen (for example,
 * i-1234567890abcdef0)." https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/resource-ids.html
 * The one definition for the app (tasks, infra); the local runtime, which imports nothing of the app, has its own in
 * local/services/fleet.ts.
 */
export const INSTANCE_ID = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;
