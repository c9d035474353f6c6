# NixOS module for Lantern: the boot loader installer (signed stubs + systemd-boot, Secure Boot from the first
# boot), LUKS unlocking in the initrd bound to the TPM, and the attestation client.
#
#   imports = [ ./nix/module.nix ];
#   boot.lantern = {
#     enable = true;
#     pkiBundle = "/var/lib/lantern/keys";   # from `lantern keys create`; db.key + db.crt sign the ESP
#   };
{ config, lib, pkgs, ... }:

let
  inherit (lib) mkEnableOption mkOption mkIf mkMerge types optionals escapeShellArgs;
  cfg = config.boot.lantern;
  attestCfg = config.services.lantern-attest;

  installArgs = [
    "--esp" config.boot.loader.efi.efiSysMountPoint
    "--keys" cfg.pkiBundle
    "--stub" "${cfg.package}/lib/lantern/lantern-stub-x64.efi"
    "--systemd-boot" "${cfg.systemdBootPackage}/lib/systemd/boot/efi/systemd-bootx64.efi"
  ]
  ++ optionals (cfg.configurationLimit != null) [ "--configuration-limit" (toString cfg.configurationLimit) ]
  ++ optionals (config.boot.loader.timeout != null) [ "--timeout" (toString config.boot.loader.timeout) ]
  ++ cfg.extraInstallArgs;

  installHook = pkgs.writeShellScript "lantern-install" ''
    set -eu
    # The generation being activated is $1; lantern reads every kept generation from the profiles itself.
    exec ${cfg.package}/bin/lantern install ${escapeShellArgs installArgs}
  '';
in
{
  options.boot.lantern = {
    enable = mkEnableOption "Lantern as the boot loader installer: one signed stub per generation, systemd-boot, Secure Boot";

    package = mkOption {
      type = types.package;
      description = "The Lantern package (bin/lantern and lib/lantern/lantern-stub-x64.efi).";
    };

    systemdBootPackage = mkOption {
      type = types.package;
      default = config.systemd.package;
      defaultText = lib.literalExpression "config.systemd.package";
      description = "Where systemd-bootx64.efi comes from; it is signed with the db key and installed when newer.";
    };

    pkiBundle = mkOption {
      type = types.path;
      default = "/var/lib/lantern/keys";
      description = ''
        Directory with the Secure Boot keys (`lantern keys create DIR`): the ESP is signed with DIR/db.key and
        DIR/db.crt. Enroll them once with `lantern keys enroll DIR` while the firmware is in Setup Mode.
      '';
    };

    configurationLimit = mkOption {
      type = types.nullOr types.ints.positive;
      default = null;
      example = 10;
      description = "Keep only the newest N generations of each profile on the ESP (null: all).";
    };

    extraInstallArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Further arguments for `lantern install`.";
    };

    luks = {
      devices = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "cryptroot" ];
        description = ''
          Names from boot.initrd.luks.devices to unlock in the initrd with the TPM (systemd-tpm2 LUKS2 tokens,
          enrolled with `lantern luks enroll` or systemd-cryptenroll against the predicted PCR values).
        '';
      };
    };
  };

  options.services.lantern-attest = {
    enable = mkEnableOption "the Lantern attestation client (quotes the TPM for a lanternd verifier)";

    verifier = mkOption {
      type = types.str;
      example = "https://verifier.example.org:8443";
      description = "Base URL of the lanternd verifier.";
    };

    tcti = mkOption {
      type = types.str;
      default = "device:/dev/tpmrm0";
      description = "The TPM, as tpm2-tools names it (TPM2TOOLS_TCTI).";
    };

    interval = mkOption {
      type = types.str;
      default = "hourly";
      description = "How often to attest (a systemd OnCalendar expression); also once at boot.";
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Further arguments for `lantern attest`.";
    };
  };

  config = mkMerge [
    (mkIf cfg.enable {
      assertions = [
        {
          assertion = !config.boot.loader.systemd-boot.enable;
          message = "boot.lantern installs systemd-boot itself: disable boot.loader.systemd-boot.";
        }
      ];
      boot.loader.external = {
        enable = true;
        installHook = installHook;
      };
      environment.systemPackages = [ cfg.package ];
    })

    (mkIf (cfg.enable && cfg.luks.devices != [ ]) {
      # systemd in the initrd reads systemd-tpm2 tokens; Lantern's tokens are of that type.
      boot.initrd.systemd.enable = true;
      boot.initrd.availableKernelModules = [ "tpm_crb" "tpm_tis" ];
      boot.initrd.luks.devices = lib.genAttrs cfg.luks.devices (_: {
        crypttabExtraOpts = [ "tpm2-device=auto" ];
      });
    })

    (mkIf attestCfg.enable {
      systemd.services.lantern-attest = {
        description = "Lantern attestation";
        wants = [ "network-online.target" ];
        after = [ "network-online.target" "tpm2.target" ];
        wantedBy = [ "multi-user.target" ];
        environment.TPM2TOOLS_TCTI = attestCfg.tcti;
        serviceConfig = {
          Type = "oneshot";
          ExecStart = "${cfg.package}/bin/lantern attest --verifier ${attestCfg.verifier} ${escapeShellArgs attestCfg.extraArgs}";
          DynamicUser = false;
          StateDirectory = "lantern";
          ProtectSystem = "strict";
          ProtectHome = true;
          PrivateTmp = true;
          NoNewPrivileges = true;
        };
      };
      systemd.timers.lantern-attest = {
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = attestCfg.interval;
          Persistent = true;
        };
      };
    })
  ];
}
