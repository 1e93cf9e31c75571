// Package fakeapi helps the controllers' unit tests drive a whole
// controller against client-go's fake clientset: Client names objects
// created with generateName and numbers resource versions as the API
// server does (the fake does neither), and Run starts a controller and
// its informers for the length of a test.
//
//	client := fakeapi.Client()
//	factory := informers.NewSharedInformerFactory(client, 0)
//	c, _ := job.New(deps.Deps{Client: client, Factory: factory}, job.Options{})
//	fakeapi.Run(t, factory, c, 2)
//	fakeapi.Eventually(t, "two pods", func(ctx context.Context) bool { … })
package fakeapi
