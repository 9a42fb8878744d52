"""The platform in containers on one host: `make images` builds the images, `make kube-play`
runs the chart's pods under `podman kube play` beside `make up`'s infrastructure."""
