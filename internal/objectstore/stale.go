package objectstore

import "context"

// StaleUploadRemover is implemented by stores that keep an upload in
// progress as an object of their own (the filesystem store's temporary
// files). A crashed server leaves those behind; the server that starts next
// removes them. Uploads other live processes are making are left alone.
type StaleUploadRemover interface {
	RemoveStaleUploads(ctx context.Context, bucket string) (removed []string, err error)
}
