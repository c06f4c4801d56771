/**
 * The AWS SDK for JavaScript (v3) prints a 9-line NodeVersionSupportWarning on Node < 22 at the
 * first client it creates: its releases after the first week of January 2027 require Node 22
 * (aws/aws-sdk-js-v3#7983). The gateway switches that notice off (load-config.ts,
 * quietSdkNodeWarning) and says it once, in one line, at start.
 */
export const SDK_NEXT_NODE_MAJOR = 22

export function nodeSupportNotice (version: string = process.version): string | undefined {
  const major = Number(version.replace(/^v/, '').split('.')[0])
  if (!Number.isInteger(major) || major >= SDK_NEXT_NODE_MAJOR) return undefined
  return `Node ${version}: AWS SDK releases after the first week of January 2027 need Node >= ${SDK_NEXT_NODE_MAJOR}; ` +
    'the gateway runs on this one, but plan the upgrade (AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true hides this line)'
}
