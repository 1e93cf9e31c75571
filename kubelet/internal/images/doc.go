// Package images is the kubelet's image manager: for each container it
// decides by the pull policy whether the node's image store is enough or
// the registry must be asked, pulls with the pod's image pull secrets,
// merges concurrent pulls of one image into one, and tells the pod what it
// did with upstream's events (Pulling, Pulled, Failed, ErrImageNeverPull).
//
// The store (runtime.ImageService) does the IO; the policy is the pure
// function decide, the credentials come from the pod's secrets matched as
// upstream's keyring does (k8s.io/kubernetes/pkg/credentialprovider).
//
//	m := images.New(images.Config{Store: rt, Secret: getSecret, Event: record})
//	img, err := m.Ensure(ctx, pod, &pod.Spec.Containers[0]) // err: *runtime.ImageError
//
// One exception to upstream's policies (DESIGN §1.6): the domain kinns.local
// is the lab's own image store, filled by `lab load` and the harness with no
// registry behind it, so an image there is used when present whatever the
// policy, and one that is absent fails at once with ErrImagePull.
package images
