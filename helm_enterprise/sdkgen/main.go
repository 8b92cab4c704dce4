// Command pulumi-sdkgen-helm-enterprise generates the TypeScript (nodejs) or Go SDK of the
// helm-enterprise Pulumi package from its schema, offline.
//
// `pulumi package gen-sdk` hands code generation to the target language's host
// (pulumi-language-nodejs, pulumi-language-go), which the Go module proxy this project builds
// from does not serve. This program calls the same code generators (pkg/v3/codegen/nodejs and
// pkg/v3/codegen/go) directly. The toolchain recipe "sdkgen" builds it; `helm-enterprise sdk
// gen` runs it.
//
//	pulumi-sdkgen-helm-enterprise --schema schema.json --language nodejs|go --out DIR
//	    [--version 0.1.0] [--nodejs-package NAME] [--go-import-base PATH]
//
// Language options the schema leaves unset are filled in before binding (the schema itself
// is not changed): the npm package name, the Go import path, and meta.supportPack, which
// makes the Go generator write a go.mod and both write the package version. The go.mod's
// github.com/pulumi/pulumi/sdk/v3 requirement is raised to the version this program was built
// with when that is newer, so the SDK compiles against the Go modules the toolchain has.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"

	"github.com/blang/semver"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"golang.org/x/mod/modfile"
	modsemver "golang.org/x/mod/semver"
)

const (
	tool   = "pulumi-sdkgen-helm-enterprise"
	goSDK  = "github.com/pulumi/pulumi/sdk/v3"
	errFmt = tool + ": %v\n"
)

// noLoader refuses every package reference: the schema depends on no other package, and this
// program must not try to download provider plugins.
type noLoader struct{}

func (noLoader) refuse(name string) error {
	return fmt.Errorf("the schema references package %q; this generator loads no other packages", name)
}

func (l noLoader) LoadPackage(pkg string, _ *semver.Version) (*schema.Package, error) {
	return nil, l.refuse(pkg)
}

func (l noLoader) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, l.refuse(d.Name)
}

func (l noLoader) LoadPackageReference(pkg string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, l.refuse(pkg)
}

func (l noLoader) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return nil, l.refuse(d.Name)
}

// setDefault sets raw[section][lang][key] = value unless the schema already has a value.
func setDefault(raw map[string]any, section, lang, key string, value any) {
	sec, _ := raw[section].(map[string]any)
	if sec == nil {
		sec = map[string]any{}
		raw[section] = sec
	}
	target := sec
	if lang != "" {
		l, _ := sec[lang].(map[string]any)
		if l == nil {
			l = map[string]any{}
			sec[lang] = l
		}
		target = l
	}
	if _, ok := target[key]; !ok {
		target[key] = value
	}
}

func loadSpec(path, version, npmName, goImportBase string) (schema.PackageSpec, error) {
	var spec schema.PackageSpec
	data, err := os.ReadFile(path)
	if err != nil {
		return spec, err
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return spec, fmt.Errorf("%s: %w", path, err)
	}
	if version != "" {
		raw["version"] = version
	}
	setDefault(raw, "meta", "", "supportPack", true)
	setDefault(raw, "language", "nodejs", "packageName", npmName)
	setDefault(raw, "language", "go", "importBasePath", goImportBase)
	data, err = json.Marshal(raw)
	if err != nil {
		return spec, err
	}
	err = json.Unmarshal(data, &spec)
	return spec, err
}

// builtSDKVersion is the sdk/v3 version this binary was built with ("" when unknown).
func builtSDKVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == goSDK {
				return dep.Version
			}
		}
	}
	return ""
}

// raiseGoSDK raises the go.mod's sdk/v3 requirement to the version this binary was built with.
func raiseGoSDK(gomod []byte) ([]byte, error) {
	want := builtSDKVersion()
	if !modsemver.IsValid(want) {
		return gomod, nil
	}
	f, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		return nil, err
	}
	for _, r := range f.Require {
		if r.Mod.Path == goSDK && modsemver.Compare(r.Mod.Version, want) < 0 {
			if err := f.AddRequire(goSDK, want); err != nil {
				return nil, err
			}
		}
	}
	return f.Format()
}

func generate(language string, spec schema.PackageSpec) (map[string][]byte, error) {
	loader := noLoader{}
	pkg, diags, err := schema.BindSpec(spec, loader, schema.ValidationOptions{})
	if err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		return nil, diags
	}
	switch language {
	case "nodejs":
		// localSDK: package.json gets "main" and a postinstall script that compiles the
		// TypeScript, so `npm install <dir>` of the generated folder works as is.
		return nodejs.GeneratePackage(tool, pkg, nil, nil, true, loader)
	case "go":
		files, err := gogen.GeneratePackage(tool, pkg, nil)
		if err != nil {
			return nil, err
		}
		if gomod, ok := files["go.mod"]; ok {
			if files["go.mod"], err = raiseGoSDK(gomod); err != nil {
				return nil, err
			}
		}
		return files, nil
	}
	return nil, fmt.Errorf("unknown language %q (want nodejs or go)", language)
}

func write(out string, files map[string][]byte) error {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		dest := filepath.Join(out, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dest, files[p], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	schemaPath := flag.String("schema", "", "the package schema (JSON)")
	language := flag.String("language", "", "nodejs or go")
	out := flag.String("out", "", "directory to write the SDK into")
	version := flag.String("version", "", "package version (default: the schema's)")
	npmName := flag.String("nodejs-package", "helm-enterprise",
		"npm package name, unless the schema sets language.nodejs.packageName")
	goImportBase := flag.String("go-import-base", "example.com/helm-enterprise/sdk/go/helmenterprise",
		"Go import path of the SDK's root package, unless the schema sets language.go.importBasePath")
	flag.Parse()
	if *schemaPath == "" || *language == "" || *out == "" || flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "usage: %s --schema FILE --language nodejs|go --out DIR\n", tool)
		flag.PrintDefaults()
		os.Exit(2)
	}
	spec, err := loadSpec(*schemaPath, *version, *npmName, *goImportBase)
	if err != nil {
		fmt.Fprintf(os.Stderr, errFmt, err)
		os.Exit(1)
	}
	files, err := generate(*language, spec)
	if err == nil {
		err = write(*out, files)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, errFmt, err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d files of the %s SDK to %s\n", len(files), *language, *out)
}
