# The Ark image: one static binary, /ark, on a distroless base that runs as
# a non-root user (65532). `make image` builds it with the Makefile's
# -ldflags (version and git commit); a plain `docker build .` works too.
FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG LDFLAGS=""
# -s -w: no symbol table or DWARF, a quarter smaller.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $LDFLAGS" -o /out/ark ./cmd/ark

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/ark /ark
USER 65532:65532
ENTRYPOINT ["/ark"]
