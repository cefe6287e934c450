# A development shell with the tools a contributor of capiform needs:
#   nix develop
# nixpkgs is pinned by revision in the URL below. No flake.lock is committed:
# one cannot be made offline, where this repository is developed. The first
# `nix develop` on a networked machine writes it; commit it then.
{
  description = "capiform: GitOps for Cluster API on OpenStack";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/81bbc0eb0b178d014b95fc769f514bedb26a6127";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [
            go
            gnumake
            git
            kubectl
            kubernetes-helm
            kind
            clusterctl
            fluxcd
            cue
          ];
          shellHook = ''
            echo "capiform dev shell: make demo | make test"
          '';
        };
      });
    };
}
