// Command genproto generates Go code from .proto files without protoc: it
// compiles them with github.com/bufbuild/protocompile (a pure-Go compiler
// that matches protoc's descriptors) and hands the descriptors to the
// protoc plugins protoc-gen-go and protoc-gen-go-grpc through the plugin
// protocol, exactly as protoc would. hack/genproto.sh installs the pinned
// plugins and runs it.
//
//	genproto -I DIR -out ROOT -go PATH -go-grpc PATH -module MODULE FILE.proto...
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

func main() {
	importPath := flag.String("I", ".", "directory the .proto files are relative to")
	out := flag.String("out", ".", "output root (the module root)")
	genGo := flag.String("go", "protoc-gen-go", "path of protoc-gen-go")
	genGRPC := flag.String("go-grpc", "protoc-gen-go-grpc", "path of protoc-gen-go-grpc")
	module := flag.String("module", "", "Go module path: output file names are relative to it")
	flag.Parse()
	if err := run(*importPath, *out, *genGo, *genGRPC, *module, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "genproto:", err)
		os.Exit(1)
	}
}

func run(importPath, out, genGo, genGRPC, module string, files []string) error {
	if len(files) == 0 {
		return fmt.Errorf("no .proto files given")
	}
	compiler := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{importPath}}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := compiler.Compile(context.Background(), files...)
	if err != nil {
		return err
	}
	// The request lists every file the generated ones depend on, each
	// before its dependents, as protoc does.
	var protos []*descriptorpb.FileDescriptorProto
	seen := map[string]bool{}
	for _, f := range compiled {
		var walk func(path string) error
		walk = func(path string) error {
			if seen[path] {
				return nil
			}
			seen[path] = true
			fd, err := compiled.AsResolver().FindFileByPath(path)
			if err != nil {
				return err
			}
			imports := fd.Imports()
			for i := 0; i < imports.Len(); i++ {
				if err := walk(imports.Get(i).Path()); err != nil {
					return err
				}
			}
			protos = append(protos, protodesc.ToFileDescriptorProto(fd))
			return nil
		}
		if err := walk(f.Path()); err != nil {
			return err
		}
	}
	param := ""
	if module != "" {
		param = "module=" + module
	}
	for _, gen := range []string{genGo, genGRPC} {
		req := &pluginpb.CodeGeneratorRequest{FileToGenerate: files, Parameter: proto.String(param), ProtoFile: protos}
		resp, err := runPlugin(gen, req)
		if err != nil {
			return err
		}
		for _, f := range resp.File {
			path := filepath.Join(out, f.GetName())
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, []byte(f.GetContent()), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func runPlugin(path string, req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	in, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", path, err, stderr.String())
	}
	resp := &pluginpb.CodeGeneratorResponse{}
	if err := proto.Unmarshal(stdout.Bytes(), resp); err != nil {
		return nil, fmt.Errorf("%s: decoding its answer: %w", path, err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("%s: %s", path, resp.GetError())
	}
	return resp, nil
}
