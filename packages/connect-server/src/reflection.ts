import type { DescFile, DescService } from "@bufbuild/protobuf";
import { createRegistry, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import { ServerReflection as ServerReflectionV1 } from "@rngbalance/grpc-protos/grpc/reflection/v1";
import { ServerReflection as ServerReflectionV1alpha } from "@rngbalance/grpc-protos/grpc/reflection/v1alpha";

/** The request fields that v1 and v1alpha share, field for field. */
interface ReflectionRequest {
  host: string;
  messageRequest:
    | {
        case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices";
        value: string;
      }
    | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
    | { case: undefined; value?: undefined };
}

/** The response fields that v1 and v1alpha share (as message init shapes). */
type ReflectionResponse = {
  validHost: string;
  originalRequest: ReflectionRequest;
  messageResponse:
    | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
    | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
    | { case: "listServicesResponse"; value: { service: { name: string }[] } }
    | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };
};

/**
 * Answers gRPC server reflection (v1 and v1alpha) from the descriptors that
 * protobuf-es embeds in generated code, so `buf curl` and grpcurl can list
 * and call the server's services without proto files.
 */
export class ReflectionIndex {
  private readonly registry;
  private readonly files = new Map<string, DescFile>();
  private readonly serviceNames: string[];

  /** The fully-qualified names of the services described, sorted. */
  get services(): readonly string[] {
    return this.serviceNames;
  }

  constructor(services: readonly DescService[]) {
    this.serviceNames = services.map((s) => s.typeName).sort();
    const visit = (file: DescFile) => {
      if (this.files.has(protoFileName(file))) return;
      this.files.set(protoFileName(file), file);
      file.dependencies.forEach(visit);
    };
    for (const service of services) visit(service.file);
    this.registry = createRegistry(...this.files.values());
  }

  /** Builds the response to one reflection request. */
  answer(request: ReflectionRequest): ReflectionResponse {
    const base = { validHost: request.host, originalRequest: request };
    const r = request.messageRequest;
    switch (r.case) {
      case "listServices":
        return {
          ...base,
          messageResponse: {
            case: "listServicesResponse",
            value: { service: this.serviceNames.map((name) => ({ name })) },
          },
        };
      case "fileByFilename": {
        const file = this.files.get(r.value);
        return file
          ? { ...base, messageResponse: this.fileResponse(file) }
          : { ...base, messageResponse: notFound(`file "${r.value}" not found`) };
      }
      case "fileContainingSymbol": {
        const file = this.fileContainingSymbol(r.value);
        return file
          ? { ...base, messageResponse: this.fileResponse(file) }
          : { ...base, messageResponse: notFound(`symbol "${r.value}" not found`) };
      }
      case "fileContainingExtension": {
        const message = this.registry.getMessage(r.value.containingType);
        const ext = message && this.registry.getExtensionFor(message, r.value.extensionNumber);
        return ext
          ? { ...base, messageResponse: this.fileResponse(ext.file) }
          : {
              ...base,
              messageResponse: notFound(
                `extension ${r.value.extensionNumber} of "${r.value.containingType}" not found`,
              ),
            };
      }
      case "allExtensionNumbersOfType": {
        const message = this.registry.getMessage(r.value);
        if (!message) return { ...base, messageResponse: notFound(`type "${r.value}" not found`) };
        const numbers: number[] = [];
        for (const type of this.registry) {
          if (type.kind === "extension" && type.extendee.typeName === r.value) numbers.push(type.number);
        }
        return {
          ...base,
          messageResponse: {
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: r.value, extensionNumber: numbers },
          },
        };
      }
      default:
        return {
          ...base,
          messageResponse: {
            case: "errorResponse",
            value: { errorCode: Code.InvalidArgument, errorMessage: "empty reflection request" },
          },
        };
    }
  }

  private fileContainingSymbol(symbol: string): DescFile | undefined {
    const type = this.registry.get(symbol);
    if (type) return type.file;
    // A method (pkg.Service.Method) or a field / enum value: look up its parent.
    const dot = symbol.lastIndexOf(".");
    if (dot < 0) return undefined;
    const parent = this.registry.get(symbol.slice(0, dot));
    return parent?.file;
  }

  /** The file and all its transitive dependencies, the file first. */
  private fileResponse(file: DescFile): ReflectionResponse["messageResponse"] {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const visit = (f: DescFile) => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      f.dependencies.forEach(visit);
    };
    visit(file);
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: out } };
  }
}

function protoFileName(file: DescFile): string {
  return `${file.name}.proto`;
}

function notFound(errorMessage: string): ReflectionResponse["messageResponse"] {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage } };
}

/** The services that answer reflection: v1, and v1alpha for older tools. */
export const reflectionServices = [ServerReflectionV1, ServerReflectionV1alpha] as const;

/** Serves one reflection service (v1 or v1alpha) from `index`. */
export function createReflectionService(
  index: ReflectionIndex,
): ServiceImpl<typeof ServerReflectionV1> & ServiceImpl<typeof ServerReflectionV1alpha> {
  return {
    async *serverReflectionInfo(requests: AsyncIterable<ReflectionRequest>) {
      for await (const request of requests) {
        yield index.answer(request);
      }
    },
  } as ServiceImpl<typeof ServerReflectionV1> & ServiceImpl<typeof ServerReflectionV1alpha>;
}
