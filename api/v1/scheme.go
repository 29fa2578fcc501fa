package v1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// NewScheme returns a scheme with every type an Ark client or server reads
// through a typed client: Kubernetes' built-in types, CustomResourceDefinitions
// and Ark's own. The CLI and the server share it, so neither needs the other.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	// AddToScheme only fails on conflicting registrations, which would be a
	// programming error caught by every test that builds a client.
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}
