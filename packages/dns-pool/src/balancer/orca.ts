import { decodeBinaryHeader } from "@connectrpc/connect";
import { type OrcaLoadReport, OrcaLoadReportSchema } from "@rngbalance/grpc-protos/xds/data/orca/v3";

export type { OrcaLoadReport } from "@rngbalance/grpc-protos/xds/data/orca/v3";

/**
 * The trailer in which a server sends its ORCA load report with each
 * response (gRFC A51 per-call reporting): a binary-encoded
 * `xds.data.orca.v3.OrcaLoadReport`, base64 on the wire as every `-bin` metadata.
 */
export const ORCA_TRAILER = "endpoint-load-metrics-bin";

/**
 * The request header that asks a server in "on-request" mode for a report
 * (Envoy's HTTP ORCA convention; gRPC has no such negotiation, gRFC A51,
 * and gRPC servers that report do so on every call).
 */
export const ORCA_REQUEST_HEADER = "endpoint-load-metrics-format";

/**
 * The ORCA load report in a call's trailers, or undefined when there is
 * none or it does not decode (a policy then carries on without it, as
 * gRFC A58 says: "the client does nothing when the per-call load report
 * is expected but missing").
 */
export function readOrcaReport(trailers: Headers | undefined): OrcaLoadReport | undefined {
  const value = trailers?.get(ORCA_TRAILER);
  if (!value) return undefined;
  // A repeated trailer reads as "a, b": the first is as good as any.
  const first = value.includes(",") ? (value.split(",")[0] as string).trim() : value;
  try {
    return decodeBinaryHeader(first, OrcaLoadReportSchema);
  } catch {
    return undefined;
  }
}

/**
 * The utilization gRFC A58 weighs by: `application_utilization` when the
 * server reports it (> 0), else `cpu_utilization`.
 */
export function reportedUtilization(report: OrcaLoadReport): number {
  return report.applicationUtilization > 0 ? report.applicationUtilization : report.cpuUtilization;
}
